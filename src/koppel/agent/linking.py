"""``koppel link FILE…``: link the environments of settings files and bundles, all or nothing.

Order of work: read every file; apply the same-update rule locally (refreshing links that
an older agent recorded first); ask every server for a dry run when there are several;
then link for real and store tokens and state only when the servers accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koppel.agent.api import AgentClient, server_base
from koppel.agent.errors import (
    AgentError,
    ApiError,
    BundleEmpty,
    ErrorItem,
    InvalidSettings,
    SettingsOutdated,
    UpdateConflict,
)
from koppel.agent.exit_codes import ExitCode
from koppel.agent.link_status import query, record
from koppel.agent.local import state as state_mod
from koppel.agent.local.state import LinkedEnv, State, now_iso
from koppel.agent.local.token_store import TokenVault, token_key
from koppel.agent.output import progress
from koppel.agent.skipped import as_json as skipped_json
from koppel.agent.skipped import merge as merge_skipped
from koppel.agent.version import AGENT_UPDATE_TEXT
from koppel.i18n import N_, ngettext
from koppel.i18n import gettext as _
from koppel.protocol.api import LinkedEnvironment, LinkRequest, Workstation
from koppel.protocol.settings_file import (
    MAX_FILE_BYTES,
    EmptyBundleError,
    SettingsFile,
    SettingsFileError,
    SkippedEnvironment,
    read_settings,
)
from koppel.protocol.settings_file import parse_settings as _parse
from koppel.protocol.updates import Update

# LinkRequest.settings accepts at most this many documents.
MAX_PER_REQUEST = 5000


@dataclass
class Source:
    """One settings document and the file it came from."""

    document: dict[str, Any]
    settings: SettingsFile
    file: str

    @property
    def code(self) -> str:
        """The environment's code."""
        return self.settings.environment.code


@dataclass
class LinkResult:
    """What a link command did (also what it did not do, when it failed)."""

    linked: list[LinkedEnv] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Clients that the bundles left out and no file of this command linked.
    skipped: list[SkippedEnvironment] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """``{"linked": [...], "replaced": [...]}`` plus the environments' details and the
        clients the bundles left out (``skipped``)."""
        return {
            "linked": [env.code for env in self.linked],
            "replaced": self.replaced,
            "environments": [
                {
                    "code": env.code,
                    "name": env.name,
                    "kind": env.kind,
                    "update": env.update,
                    "login": env.login,
                    "server": env.api_url,
                    "token_store": env.token_store,
                }
                for env in self.linked
            ],
            "notes": self.notes,
            "skipped": skipped_json(self.skipped),
        }


def shown_path(path: Path) -> str:
    """A path as one line of a message: characters that are not printable escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


def read_sources(files: list[Path]) -> tuple[list[Source], list[SkippedEnvironment]]:
    """Every settings document of every file, in order, and the clients the bundles left
    out; raise InvalidSettings (exit 8, one line) naming the unusable file, whatever is
    wrong with it, or BundleEmpty (exit 8, with the reasons) for a bundle without any
    client."""
    sources: list[Source] = []
    skipped: list[SkippedEnvironment] = []
    for path in files:
        name = shown_path(path)
        try:
            with path.open("rb") as handle:  # never more than a settings file can be
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise InvalidSettings(
                _(
                    "Cannot read {name}: {reason}. Check the file name, or save the settings again."
                ).format(name=name, reason=exc.strerror or exc)
            ) from exc
        try:
            contents = read_settings(raw, name)
            sources.extend(Source(doc, _parse(doc, name), name) for doc in contents.documents)
            skipped.extend(contents.skipped)
        except EmptyBundleError as exc:
            raise BundleEmpty(
                name, exc.skipped, _("nothing was linked."), ExitCode.INVALID_SETTINGS
            ) from exc
        except SettingsFileError as exc:
            raise InvalidSettings(str(exc)) from exc
        except (ValueError, TypeError, RecursionError) as exc:  # never a traceback
            raise InvalidSettings(
                _(
                    "{name} is not a usable Koppel settings file ({problem}). Save the "
                    "settings again from your environment."
                ).format(name=name, problem=type(exc).__name__)
            ) from exc
    return sources, skipped


def deduplicate(sources: list[Source]) -> tuple[list[Source], list[str]]:
    """Keep the last document of each environment; notes say which duplicates were dropped."""
    last: dict[str, Source] = {}
    notes: list[str] = []
    for source in sources:
        earlier = last.pop(source.code, None)
        if earlier is not None:
            notes.append(
                _(
                    "{code} appears more than once ({earlier} and {later}); the last one, "
                    "from {later}, is used."
                ).format(code=source.code, earlier=earlier.file, later=source.file)
            )
        last[source.code] = source
    return list(last.values()), notes


def update_problems(
    sources: list[Source], agent_update: str, linked: dict[str, LinkedEnv]
) -> list[str]:
    """The same-update rule: one sentence per environment that would break it.

    Every new environment must be on the agent's update, and so must every environment
    already linked that this command does not replace.
    """
    problems = [
        sentence
        for source in sources
        if (sentence := file_update_problem(source, agent_update)) is not None
    ]
    return problems or linked_problems(sources, agent_update, linked)


def linked_problems(
    sources: list[Source], agent_update: str, linked: dict[str, LinkedEnv]
) -> list[str]:
    """The environments already linked on another update that this command does not replace."""
    if not sources:
        return []
    replacing = {source.code for source in sources}
    return [
        _(
            "{code}, already linked, is on update {update} while this agent and the "
            "environments to link are on update {agent_update}: {fix}"
        ).format(
            code=env.code,
            update=env.update,
            agent_update=agent_update,
            fix=_linked_fix(env, agent_update),
        )
        for env in linked.values()
        if env.code not in replacing and env.update != agent_update
    ]


def _linked_fix(env: LinkedEnv, agent_update: str) -> str:
    """What to do about a link on another update: an environment is never converted back,
    so one on a newer update means this agent and the files are the old ones."""
    if Update.parse(env.update) > Update.parse(agent_update):
        return _(
            "install the agent of update {update}, then save the settings of the "
            "environments to link again (they were saved before their conversion)."
        ).format(update=env.update)
    return _(
        "ask the administrator to convert {code} to update {agent_update}, or unlink it "
        "with `koppel unlink {code}`."
    ).format(code=env.code, agent_update=agent_update)


def file_update_problem(source: Source, agent_update: str) -> str | None:
    """The sentence for a settings file saved on another update than the agent's (None when
    it is on the agent's), as far as the file tells: the server may know better."""
    found = source.settings.environment.update
    if found == agent_update:
        return None
    code = source.code
    if Update.parse(found) > Update.parse(agent_update):
        # The settings' main site is a portal that exists (a client's is its firm's).
        fix = _(
            'install the agent of update {update} ("Save installation" on the portal '
            "{portal}, or ask the administrator for it); your existing links are kept"
        ).format(update=found, portal=source.settings.environment.main_site_url)
    elif source.settings.environment.kind == "firm":
        fix = _(
            "ask the administrator to convert {code} to update {agent_update} with its clients"
        ).format(code=code, agent_update=agent_update)
    else:
        fix = _(
            "ask the administrator to convert {code} to update {agent_update}, together with "
            "its firm and the firm's other clients"
        ).format(code=code, agent_update=agent_update)
    return _(
        "{code} ({file}) is on update {update} but this agent is on update {agent_update}: {fix}."
    ).format(code=code, file=source.file, update=found, agent_update=agent_update, fix=fix)


def _server_verdicts(
    sources: list[Source], station: Workstation
) -> tuple[dict[str, ErrorItem], set[str]]:
    """Ask the servers (a dry run, no code is used) about settings files whose update is not
    the agent's: the refusal per environment, and the codes the servers accepted.

    A file saved before its environment was converted says the old update; only the server
    knows that the environment moved on (``settings_outdated``: save the settings again).
    An unreachable server leaves its environments out of both: the file's word stands.
    """
    refused: dict[str, ErrorItem] = {}
    accepted: set[str] = set()
    for server, group in _calls(sources):
        request = LinkRequest(
            workstation=station, settings=[source.document for source in group], dry_run=True
        )
        try:
            with AgentClient(server) as client:
                client.link(request)
        except ApiError as exc:
            items = exc.details or [ErrorItem(exc.code, exc.message, exc.environment)]
            refused.update({item.environment: item for item in items if item.environment})
            accepted.update(s.code for s in group if s.code not in refused)
        except AgentError:
            continue
        else:
            accepted.update(source.code for source in group)
    return refused, accepted


def _file_problems(
    sources: list[Source], agent_update: str, station: Workstation
) -> tuple[list[str], list[str]]:
    """Settings files on another update than the agent's: the sentences of those the same-
    update rule refuses, and of those saved before a conversion (to be saved again).

    A file on a newer update is refused here without asking: an environment is never
    converted back. A file on an older update may have been saved before its environment
    was converted: only its server knows, so it is asked (a dry run).
    """
    agent = Update.parse(agent_update)
    rule = [
        sentence
        for source in sources
        if Update.parse(source.settings.environment.update) > agent
        and (sentence := file_update_problem(source, agent_update)) is not None
    ]
    older = [s for s in sources if Update.parse(s.settings.environment.update) < agent]
    if rule:  # refused anyway: every file is named, as far as it tells
        return [sentence for s in sources if (sentence := file_update_problem(s, agent_update))], []
    if not older:
        return [], []
    refused, accepted = _server_verdicts(older, station)
    outdated: list[str] = []
    for source in older:
        item = refused.get(source.code)
        local = file_update_problem(source, agent_update)
        if source.code in accepted or local is None:
            continue
        if item is None or item.code == "update_mismatch":
            # Still on the older update: only this agent knows its other links, so the
            # advice is to convert, never to install an older agent.
            rule.append(local)
        else:
            outdated.append(f"{source.code} ({source.file}): {item.message}")
    return rule, outdated


def refresh_stale(state: State, skip: set[str]) -> list[str]:
    """Ask the servers for the current update of links recorded on another update.

    Right after an agent upgrade the recorded updates are the old ones although the
    environments were converted; one /status call per server tells the truth.
    """
    stale = [env for env in state.needs_refresh() if env.code not in skip]
    if not stale:
        return []
    vault = TokenVault(state)
    outcomes = query(stale, vault.get_many(stale))
    notes: list[str] = list(vault.warnings)
    with state_mod.locked() as loaded:
        for code, outcome in outcomes.items():
            env = loaded.state.environments.get(code)
            if env is None:
                continue
            if outcome.status is not None:
                record(env, outcome, outcome.status.state)
                state.environments[code] = env
            elif outcome.error is not None:
                notes.append(
                    _("Could not refresh {code}: {reason}").format(
                        code=code, reason=outcome.error.message
                    )
                )
    return notes


def link_files(files: list[Path], workstation_name: str | None = None) -> LinkResult:
    """Link every environment of these files; store nothing unless the servers accept."""
    loaded = state_mod.read()
    state = loaded.state
    result = LinkResult(notes=list(loaded.notes))
    read, skipped = read_sources(files)
    sources, duplicates = deduplicate(read)
    result.notes.extend(duplicates)
    codes = {source.code for source in sources}
    result.skipped = merge_skipped(skipped, codes)
    result.notes.extend(refresh_stale(state, skip=codes))
    workstation = state.ensure_workstation(workstation_name)
    station = Workstation(id=workstation.id, name=workstation.name)
    rule, outdated = _file_problems(sources, AGENT_UPDATE_TEXT, station)
    if not rule and not outdated:
        rule = linked_problems(sources, AGENT_UPDATE_TEXT, state.environments)
    if rule:
        raise UpdateConflict(
            _(
                "Nothing was linked. All environments linked to one agent must be on the "
                "same update:"
            )
            + "\n  "
            + "\n  ".join(rule + outdated)
        )
    if outdated:
        raise SettingsOutdated(_("Nothing was linked.") + "\n  " + "\n  ".join(outdated))
    calls = _calls(sources)
    if len(calls) > 1:
        # Each request is all-or-nothing by itself; with several (several servers, or more
        # settings than one request takes) every one is checked with a dry run first.
        for server, group in calls:
            _call(server, group, station, dry_run=True, done=[])
    made: list[tuple[Source, LinkedEnvironment]] = []
    linking = ngettext("Linking {n} environment", "Linking {n} environments", len(sources)).format(
        n=len(sources)
    )
    with progress(linking, len(sources)) as advance:
        for server, group in calls:
            try:
                links = _call(server, group, station, dry_run=False, done=made)
            except AgentError:
                if made:
                    # Tokens were issued and codes used by the earlier requests: keep them
                    # rather than lose access (the server already replaced older tokens).
                    _store(made, workstation, result)
                raise
            made.extend(zip(group, links, strict=True))
            advance(len(group))
    _store(made, workstation, result)
    return result


def _calls(sources: list[Source]) -> list[tuple[str, list[Source]]]:
    """The link requests to make: per server, at most MAX_PER_REQUEST settings each."""
    groups: dict[str, list[Source]] = {}
    for source in sources:
        groups.setdefault(server_base(source.settings.environment.api_url), []).append(source)
    return [
        (server, group[start : start + MAX_PER_REQUEST])
        for server, group in groups.items()
        for start in range(0, len(group), MAX_PER_REQUEST)
    ]


def _call(
    server: str,
    group: list[Source],
    station: Workstation,
    *,
    dry_run: bool,
    done: list[tuple[Source, LinkedEnvironment]],
) -> list[LinkedEnvironment]:
    request = LinkRequest(
        workstation=station, settings=[source.document for source in group], dry_run=dry_run
    )
    try:
        with AgentClient(server) as client:
            answer = client.link(request)
    except AgentError as exc:
        raise LinkFailed(exc, server, group, done) from exc
    if len(answer.links) != len(group):
        raise AgentError(
            _(
                "The server at {server} did not answer each settings document once (answers: "
                "{links}, documents: {n}); nothing more was linked. Ask the administrator to "
                "check the server."
            ).format(server=server, links=len(answer.links), n=len(group))
        )
    return answer.links


class LinkFailed(AgentError):
    """A server refused (or could not be reached); says which files and what was done."""

    def __init__(
        self,
        cause: AgentError,
        server: str,
        group: list[Source],
        done: list[tuple[Source, LinkedEnvironment]],
    ) -> None:
        files = {source.code: source.file for source in group}
        lines: list[str] = []
        if isinstance(cause, ApiError) and cause.details:
            for item in cause.details:
                where = _where(item.environment, files)
                lines.append(f"{where}{refusal_text(item)}")
        elif isinstance(cause, ApiError) and cause.environment:
            item = ErrorItem(cause.code, cause.message, cause.environment)
            lines.append(f"{_where(cause.environment, files)}{refusal_text(item)}")
        else:
            lines.append(cause.message)
        if done:
            summary = ngettext(
                "Linked {n} environment on other servers ({codes}); nothing linked on {server}.",
                "Linked {n} environments on other servers ({codes}); nothing linked on {server}.",
                len(done),
            ).format(n=len(done), codes=", ".join(s.code for s, _l in done[:10]), server=server)
        else:
            summary = _("Nothing was linked.")
        if len(lines) == 1:  # one line when there is one reason
            message = _("{server} refused the link: {reason} {summary}").format(
                server=server, reason=lines[0], summary=summary
            )
        else:
            message = (
                _("{server} refused the link.").format(server=server)
                + " "
                + "\n  ".join(lines)
                + f"\n{summary}"
            )
        super().__init__(message, cause.exit_code)
        self.cause = cause
        self.code = cause.code

    def as_json(self) -> dict[str, Any]:
        """The cause's details with this summary message."""
        data = self.cause.as_json()
        data["message"] = self.message
        return data


# The refusals of a link that the agent words itself, in the user's language, whatever the
# language of the server's message: they are said entirely by the code and the environment
# (a server older than the agent's language, or without it, still answers in English).
_OWN_WORDS: dict[str, str] = {
    "enrollment_used": N_(
        "The settings file for {environment} was already used to link a workstation; each "
        "file links once. Save the settings again to link another time."
    ),
    "enrollment_unknown": N_(
        "The enrollment code in the settings file for {environment} is not known here. "
        "Save the settings again from the environment's portal."
    ),
    "settings_tampered": N_(
        "The settings file for {environment} was altered after it was saved (or was not "
        "issued by this server). Save the settings again and link the new file."
    ),
    "unknown_environment": N_(
        "Environment {environment} no longer exists on this server. Ask its administrator."
    ),
}


def refusal_text(item: ErrorItem) -> str:
    """What to tell the user about one environment's refusal: the agent's own sentence for
    the refusals it knows by their code, else the server's message as it came."""
    words = _OWN_WORDS.get(item.code)
    if words is None or not item.environment:
        return item.message
    return _(words).format(environment=item.environment)


def _where(environment: str | None, files: dict[str, str]) -> str:
    if environment is None:
        return ""
    if environment in files:
        return f"{environment} ({files[environment]}): "
    return f"{environment}: "


def _store(
    made: list[tuple[Source, LinkedEnvironment]],
    workstation: state_mod.Workstation,
    result: LinkResult,
) -> None:
    """Record the links and their tokens, under the state lock, in one go."""
    missing = [link.code for _source, link in made if not link.token]
    if missing:
        raise AgentError(
            _(
                "The server gave no token for {codes}; nothing was stored. Ask the "
                "administrator to check the server."
            ).format(codes=", ".join(missing))
        )
    with state_mod.locked() as loaded:
        state = loaded.state
        # The identity the servers now know this workstation by (made on first link).
        state.workstation = workstation
        vault = TokenVault(state)
        store = vault.choose()
        fresh: list[LinkedEnv] = []
        for source, link in made:
            fresh.append(
                LinkedEnv(
                    code=link.code,
                    name=link.name,
                    kind=link.kind,
                    update=link.update,
                    login=link.login,
                    display_name=link.display_name,
                    api_url=link.api_url or source.settings.environment.api_url,
                    main_site_url=link.main_site_url,
                    token_store=store,
                    linked_at=now_iso(),
                    last_check=now_iso(),
                    last_state="ok",
                )
            )
            if link.code in state.environments or link.replaced_previous:
                result.replaced.append(link.code)
        used = vault.put_many(
            [(env, link.token or "") for env, (_source, link) in zip(fresh, made, strict=True)],
            store,
        )
        # The old tokens of replaced links are dead on the server; drop them unless the
        # new token went to the very same place (then it was overwritten already).
        stale = []
        for env in fresh:
            env.token_store = used[env.code]
            old = state.environments.get(env.code)
            if old is not None and (token_key(old), old.token_store) != (
                token_key(env),
                env.token_store,
            ):
                stale.append(old)
            state.environments[env.code] = env
        vault.delete_many(stale)
        result.linked.extend(fresh)
        result.notes.extend(vault.warnings)
