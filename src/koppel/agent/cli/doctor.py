"""``koppel doctor``: check every link and print the fix for each problem."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from koppel.agent.cli.common import JsonOption, note, reporting, usage

if TYPE_CHECKING:
    from koppel.agent.api.proxy import ProxyChoice
from koppel.agent.exit_codes import ExitCode
from koppel.agent.output import print_json, print_table
from koppel.agent.words import word
from koppel.i18n import gettext as _
from koppel.i18n import ngettext


@usage(
    _("Check every linked environment and print the fix for each problem.")
    + "\n\n"
    + _(
        "Reachable server, token valid (not revoked), app connector open, authorizations "
        "present, same update as this agent. One request per server. Also names the proxy "
        "the requests go through (HTTPS_PROXY/NO_PROXY, else the system's proxy settings). "
        "Exits 3 on any problem."
    ),
    "koppel doctor --env F10001",
)
def doctor(
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help=_("Check only this environment (repeatable).")),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    with reporting(json_output):
        from koppel.agent import doctor as doctor_mod

        proxies = doctor_mod.proxy_choices()
        findings, notes = doctor_mod.run(env or None)
        for message in notes:
            note(message)
        problems = [finding for finding in findings if not finding.ok]
        if json_output:
            print_json(
                {
                    "ok": not problems,
                    "checked": len(findings),
                    "problems": len(problems),
                    "environments": [finding.as_json() for finding in findings],
                    "proxies": [choice.as_json() for choice in proxies],
                }
            )
        elif not findings:
            note(_("No environment is linked yet. Link one with `koppel link FILE`."))
        else:
            print_table(
                (_("ENVIRONMENT"), _("STATE"), _("MESSAGE")),
                [
                    (f.environment, word(f.state), word(f.message) if f.ok else f.message)
                    for f in findings
                ],
            )
            # One line per fix: a fix about updates concerns many environments at once.
            by_fix: dict[str, list[str]] = {}
            for finding in problems:
                by_fix.setdefault(finding.fix, []).append(finding.environment)
            for fix, codes in by_fix.items():
                shown = ", ".join(codes[:10])
                if len(codes) > 10:
                    shown = _("{codes} and {more} more").format(codes=shown, more=len(codes) - 10)
                note(_("{codes}: {fix}.").format(codes=shown, fix=fix))
            note(_summary(len(findings), len(problems)))
        if not json_output:
            _say_proxies(proxies)
        if problems:
            raise typer.Exit(int(ExitCode.PROBLEMS))


def _summary(checked: int, problems: int) -> str:
    """The last line: how many environments are ok (and how many have problems)."""
    if problems:
        return ngettext(
            "{ok} of {count} environment ok, {problems} with problems.",
            "{ok} of {count} environments ok, {problems} with problems.",
            checked,
        ).format(ok=checked - problems, count=checked, problems=problems)
    return ngettext(
        "{ok} of {count} environment ok.", "{ok} of {count} environments ok.", checked
    ).format(ok=checked, count=checked)


def _say_proxies(proxies: list[ProxyChoice]) -> None:
    # One line when every server is reached the same way (the usual case).
    if len({(c.url, c.source, c.bypassed_by) for c in proxies}) == 1:
        note(_("Network: requests go {how}.").format(how=proxies[0].describe()))
        return
    for choice in proxies:
        note(
            _("Network: requests to {server} go {how}.").format(
                server=choice.server, how=choice.describe()
            )
        )
