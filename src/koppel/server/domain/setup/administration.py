"""Administrative steps of the procedure, each idempotent and audited when it changes
something (DESIGN.md; the help page's firm and client set-up)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from koppel.i18n import gettext as _
from koppel.i18n import ngettext
from koppel.protocol.errors import ErrorCode
from koppel.protocol.extensions import shown_list
from koppel.protocol.functions import Function
from koppel.protocol.updates import Update
from koppel.server.domain import events, lookups, names
from koppel.server.domain.audit import record
from koppel.server.domain.errors import DomainError
from koppel.server.domain.events import EventRepository
from koppel.server.domain.links import revocation
from koppel.server.domain.links.revocation import WorkstationRevocation
from koppel.server.domain.model import (
    Account,
    Authorization,
    Connector,
    ConnectorName,
    Environment,
    Group,
    Kind,
    Membership,
    RevokeReason,
    TokenView,
)
from koppel.server.domain.passwords import hash_password
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository
from koppel.server.domain.transfer import extensions
from koppel.server.domain.transfer.extensions import Allowlist, ExtensionRepository

if TYPE_CHECKING:
    from koppel.server.domain.dossier.model import DossierRepository
    from koppel.server.domain.dossier.template import TemplateRepository
    from koppel.server.domain.portal.model import WebRepository
    from koppel.server.domain.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Outcome:
    """What one step did: whether anything changed, in a sentence."""

    changed: bool
    message: str


@dataclass
class Admin:
    """The administrative operations, acting as ``actor`` (recorded in the audit log)."""

    repo: Repository
    policy: Policy
    actor: str
    # Where agents' events go (revocations, conversions, blocked connectors); None: nowhere.
    events: EventRepository | None = None
    # The environments' extension lists; needed only by the ``*_extensions`` operations.
    extension_lists: ExtensionRepository | None = None
    # The dossier and the firms' dossier templates; needed by ``setup client`` and the
    # template operations (``dossier_template``).
    dossier: DossierRepository | None = None
    templates: TemplateRepository | None = None
    # The portal's sessions and second factors (resetting an account's second factor).
    portal: WebRepository | None = None

    @classmethod
    def of(cls, uow: UnitOfWork, policy: Policy, actor: str) -> Admin:
        """Every operation, on one unit of work's repositories."""
        return cls(
            uow.core,
            policy,
            actor,
            uow.events,
            uow.extensions,
            uow.dossier,
            uow.templates,
            uow.portal,
        )

    def _audit(self, action: str, environment: str | None = None, **detail: object) -> None:
        record(self.repo, self.policy, self.actor, action, environment, **detail)

    def _event(
        self, environment_id: int, kind: str, membership_id: int | None = None, **payload: Any
    ) -> None:
        if self.events is not None:
            events.record(
                self.events, self.policy.clock(), environment_id, kind, membership_id, **payload
            )

    # --- accounts
    def create_account(self, login: str, display_name: str, password: str) -> Outcome:
        """Create a login identity; an existing one is left as it is."""
        login = names.login(login)
        if self.repo.account(login) is not None:
            return Outcome(False, _("account {login} already exists").format(login=login))
        if len(password) < 8:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, _("Choose a password of at least 8 characters.")
            )
        self.repo.add_account(
            Account(login, display_name.strip() or login, hash_password(password))
        )
        self._audit("account.create", None, login=login)
        return Outcome(True, _("account {login} created").format(login=login))

    def set_password(self, login: str, password: str) -> Outcome:
        """Replace an account's password."""
        acct = lookups.account(self.repo, login)
        if len(password) < 8:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, _("Choose a password of at least 8 characters.")
            )
        acct.password_hash = hash_password(password)
        self.repo.save_account(acct)
        self._audit("account.password", None, login=acct.login)
        return Outcome(True, _("password of {login} changed").format(login=acct.login))

    def set_account_disabled(self, login: str, disabled: bool) -> Outcome:
        """Disable or enable an account everywhere."""
        acct = lookups.account(self.repo, login)
        if acct.disabled == disabled:
            already = (
                _("account {login} is already disabled")
                if disabled
                else _("account {login} is already enabled")
            )
            return Outcome(False, already.format(login=acct.login))
        acct.disabled = disabled
        self.repo.save_account(acct)
        self._audit(f"account.{'disable' if disabled else 'enable'}", None, login=acct.login)
        done = _("account {login} disabled") if disabled else _("account {login} enabled")
        return Outcome(True, done.format(login=acct.login))

    # --- environments
    def create_environment(
        self,
        code: str,
        name: str,
        kind: Kind,
        update: str | None = None,
        has_portal: bool | None = None,
        firm: str | None = None,
    ) -> Outcome:
        """Create an environment with its two connectors, blocked."""
        code = names.environment_code(code)
        existing = self.repo.environment(code)
        if existing is not None:
            if existing.kind != kind:
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR,
                    _("Environment {code} already exists as a {kind} environment.").format(
                        code=code, kind=existing.kind
                    ),
                    environment=code,
                )
            return Outcome(False, _("environment {code} already exists").format(code=code))
        chosen = self._supported(update) if update else self.policy.current_update
        firm_env = self._firm(firm) if firm else None
        if firm_env is not None and kind is not Kind.CLIENT:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, _("Only a client environment has a managing firm.")
            )
        env = self.repo.add_environment(
            Environment(
                code=code,
                name=name.strip() or code,
                kind=kind,
                update=str(chosen),
                has_portal=kind is Kind.FIRM if has_portal is None else has_portal,
                firm_id=firm_env.id if firm_env else None,
            )
        )
        for connector in ConnectorName:
            self.repo.add_connector(Connector(env.id, connector, blocked=True))
        self._audit("environment.create", code, kind=str(kind), update=str(chosen), name=env.name)
        return Outcome(
            True,
            _("environment {code} created ({kind}, update {update})").format(
                code=code, kind=kind, update=chosen
            ),
        )

    def set_environment(
        self, code: str, name: str | None = None, has_portal: bool | None = None
    ) -> Outcome:
        """Rename an environment or record whether it has its own portal."""
        env = lookups.environment(self.repo, code)
        changes: dict[str, object] = {}
        if name is not None and name.strip() and name.strip() != env.name:
            env.name = changes["name"] = name.strip()
        if has_portal is not None and has_portal != env.has_portal:
            env.has_portal = changes["has_portal"] = has_portal
        if not changes:
            return Outcome(False, _("environment {code} already as asked").format(code=env.code))
        self.repo.save_environment(env)
        self._audit("environment.set", env.code, **changes)
        return Outcome(True, _("environment {code} updated").format(code=env.code))

    def set_api_url(self, code: str, url: str) -> Outcome:
        """Record the address agents use (the "central local environment" setting)."""
        env = lookups.environment(self.repo, code)
        value = names.url(url, _("API URL"))
        if env.api_url == value:
            return Outcome(
                False, _("API URL of {code} already {url}").format(code=env.code, url=value)
            )
        earlier, env.api_url = env.api_url, value
        self.repo.save_environment(env)
        self._audit("environment.api_url", env.code, url=value)
        if earlier:
            return Outcome(
                True,
                _("API URL of {code} changed from {earlier} to {url}").format(
                    code=env.code, earlier=earlier, url=value
                ),
            )
        return Outcome(True, _("API URL of {code} set to {url}").format(code=env.code, url=value))

    def set_main_site(self, code: str, url: str) -> Outcome:
        """Record the portal ("main site") users of the environment start from."""
        env = lookups.environment(self.repo, code)
        value = names.url(url, _("main site address"), allow_query=True)
        if env.main_site_url == value:
            return Outcome(
                False, _("main site of {code} already {url}").format(code=env.code, url=value)
            )
        earlier, env.main_site_url = env.main_site_url, value
        self.repo.save_environment(env)
        self._audit("environment.main_site", env.code, url=value)
        if earlier:
            return Outcome(
                True,
                _("main site of {code} changed from {earlier} to {url}").format(
                    code=env.code, earlier=earlier, url=value
                ),
            )
        return Outcome(True, _("main site of {code} set to {url}").format(code=env.code, url=value))

    def set_firm(self, client: str, firm: str) -> Outcome:
        """Record which firm manages a client environment."""
        env = lookups.environment(self.repo, client)
        firm_env = self._firm(firm)
        if env.kind is not Kind.CLIENT:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                _(
                    "{code} is a firm environment; only client environments have a managing firm."
                ).format(code=env.code),
                environment=env.code,
            )
        if env.firm_id == firm_env.id:
            return Outcome(
                False,
                _("{code} is already managed by {firm}").format(code=env.code, firm=firm_env.code),
            )
        if env.firm_id is not None:
            current = self.repo.environment_by_id(env.firm_id)
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                _("{code} is managed by {current}, not {firm}.").format(
                    code=env.code, current=current.code if current else "?", firm=firm_env.code
                ),
                environment=env.code,
            )
        env.firm_id = firm_env.id
        self.repo.save_environment(env)
        self._audit("environment.firm", env.code, firm=firm_env.code)
        return Outcome(
            True, _("{code} is now managed by {firm}").format(code=env.code, firm=firm_env.code)
        )

    def convert(self, code: str, to_update: str) -> Outcome:
        """Convert an environment to a newer update. Its users' links stay; their agents
        must be of the new update from now on."""
        env = lookups.environment(self.repo, code)
        target = self._supported(to_update)
        current = Update.parse(env.update)
        if current == target:
            return Outcome(
                False,
                _("{code} is already on update {update}").format(code=env.code, update=target),
            )
        if target < current:
            raise DomainError(
                ErrorCode.UPDATE_UNSUPPORTED,
                _(
                    "{code} is on update {current}; converting back to {target} is not possible."
                ).format(code=env.code, current=current, target=target),
                environment=env.code,
            )
        env.update = str(target)
        self.repo.save_environment(env)
        self._audit("environment.convert", env.code, **{"from": str(current), "to": str(target)})
        self._event(
            env.id,
            events.ENVIRONMENT_CONVERTED,
            environment=env.code,
            from_update=str(current),
            to_update=str(target),
        )
        return Outcome(
            True,
            _("{code} converted from update {current} to {target}").format(
                code=env.code, current=current, target=target
            ),
        )

    # --- users, portal access, authorizations
    def add_user(self, code: str, login: str) -> Outcome:
        """Make an account a user of an environment."""
        env = lookups.environment(self.repo, code)
        acct = lookups.account(self.repo, login)
        if self.repo.membership(env.id, acct.id) is not None:
            return Outcome(
                False,
                _("{login} is already a user of {code}").format(login=acct.login, code=env.code),
            )
        self.repo.add_membership(Membership(env.id, acct.id))
        self._audit("user.add", env.code, login=acct.login)
        return Outcome(True, _("{login} added to {code}").format(login=acct.login, code=env.code))

    def set_portal_access(self, code: str, login: str, granted: bool) -> Outcome:
        """Grant or withdraw a user's access to the portal (InSite)."""
        env = lookups.environment(self.repo, code)
        member = lookups.membership(self.repo, env, lookups.account(self.repo, login))
        if member.portal_access == granted:
            already = (
                _("{login} already has portal access in {code}")
                if granted
                else _("{login} already has no portal access in {code}")
            )
            return Outcome(False, already.format(login=login, code=env.code))
        member.portal_access = granted
        self.repo.save_membership(member)
        self._audit("portal." + ("grant" if granted else "revoke"), env.code, login=login)
        done = (
            _("{login} now has portal access in {code}")
            if granted
            else _("{login} now has no portal access in {code}")
        )
        return Outcome(True, done.format(login=login, code=env.code))

    def logins(self, code: str) -> list[str]:
        """The logins of every user of an environment."""
        env = lookups.environment(self.repo, code)
        return sorted(view.account.login for view in self.repo.members([env.id]))

    def authorize_user(
        self, code: str, login: str, functions: Iterable[Function], granted: bool = True
    ) -> Outcome:
        """Grant (or withdraw) functions directly to one user."""
        env = lookups.environment(self.repo, code)
        member = lookups.membership(self.repo, env, lookups.account(self.repo, login))
        direct = {
            a.function: a for a in self.repo.authorizations(env.id) if a.membership_id == member.id
        }
        changed = []
        for function in functions:
            if granted and function not in direct:
                self.repo.add_authorization(
                    Authorization(env.id, function, membership_id=member.id)
                )
                changed.append(function)
            elif not granted and function in direct:
                self.repo.remove_authorization(direct[function].id)
                changed.append(function)
        if not changed:
            already = (
                _("{login} already authorized as asked in {code}")
                if granted
                else _("{login} already unauthorized as asked in {code}")
            )
            return Outcome(False, already.format(login=login, code=env.code))
        self._audit(
            "user.authorize" if granted else "user.unauthorize",
            env.code,
            login=login,
            functions=[str(f) for f in changed],
        )
        done = (
            _("{login} authorized in {code} for {functions}")
            if granted
            else _("{login} unauthorized in {code} for {functions}")
        )
        return Outcome(True, done.format(login=login, code=env.code, functions=", ".join(changed)))

    def create_group(self, code: str, name: str) -> Outcome:
        """Create a group in an environment."""
        env = lookups.environment(self.repo, code)
        if self.repo.group(env.id, name) is not None:
            return Outcome(
                False, _("group {name!r} already exists in {code}").format(name=name, code=env.code)
            )
        self.repo.add_group(Group(env.id, name))
        self._audit("group.create", env.code, group=name)
        return Outcome(True, _("group {name!r} created in {code}").format(name=name, code=env.code))

    def authorize_group(
        self, code: str, name: str, functions: Iterable[Function], granted: bool = True
    ) -> Outcome:
        """Grant (or withdraw) functions to a group."""
        env = lookups.environment(self.repo, code)
        group = self._group(env, name)
        held = {a.function: a for a in self.repo.authorizations(env.id) if a.group_id == group.id}
        changed = []
        for function in functions:
            if granted and function not in held:
                self.repo.add_authorization(Authorization(env.id, function, group_id=group.id))
                changed.append(function)
            elif not granted and function in held:
                self.repo.remove_authorization(held[function].id)
                changed.append(function)
        if not changed:
            return Outcome(
                False,
                _("group {name!r} already as asked in {code}").format(name=name, code=env.code),
            )
        self._audit(
            "group.authorize" if granted else "group.unauthorize",
            env.code,
            group=name,
            functions=[str(f) for f in changed],
        )
        return Outcome(
            True,
            _("group {name!r} in {code}: {changes}").format(
                name=name, code=env.code, changes=", ".join(changed)
            ),
        )

    def set_group_member(self, code: str, name: str, login: str, member: bool = True) -> Outcome:
        """Put a user in a group, or take them out."""
        env = lookups.environment(self.repo, code)
        group = self._group(env, name)
        membership = lookups.membership(self.repo, env, lookups.account(self.repo, login))
        present = membership.id in self.repo.group_member_ids(group.id)
        if present == member:
            already = (
                _("{login} already in group {name!r}")
                if member
                else _("{login} already not in group {name!r}")
            )
            return Outcome(False, already.format(login=login, name=name))
        if member:
            self.repo.add_group_member(group.id, membership.id)
        else:
            self.repo.remove_group_member(group.id, membership.id)
        self._audit("group." + ("add" if member else "remove"), env.code, group=name, login=login)
        done = (
            _("{login} added to group {name!r}")
            if member
            else _("{login} removed from group {name!r}")
        )
        return Outcome(True, done.format(login=login, name=name))

    # --- connectors
    def set_connector_blocked(self, code: str, connector: ConnectorName, blocked: bool) -> Outcome:
        """Block or unblock one of an environment's app connectors."""
        env = lookups.environment(self.repo, code)
        found = next(c for c in self.repo.connectors([env.id]) if c.name == connector)
        if found.blocked == blocked:
            already = (
                _("connector {connector} of {code} is already blocked")
                if blocked
                else _("connector {connector} of {code} is already open")
            )
            return Outcome(False, already.format(connector=connector, code=env.code))
        found.blocked = blocked
        self.repo.save_connector(found)
        self._audit(
            "connector." + ("block" if blocked else "unblock"), env.code, connector=str(connector)
        )
        if blocked:
            self._event(
                env.id, events.CONNECTOR_BLOCKED, environment=env.code, connector=str(connector)
            )
        done = (
            _("connector {connector} of {code} is now blocked")
            if blocked
            else _("connector {connector} of {code} is now open")
        )
        return Outcome(True, done.format(connector=connector, code=env.code))

    # --- allowed file extensions
    def _extension_lists(self) -> ExtensionRepository:
        if self.extension_lists is None:
            raise RuntimeError("Admin needs extension_lists for extension operations")
        return self.extension_lists

    def extension_allowlist(self, code: str) -> Allowlist:
        """The file extensions an environment accepts."""
        env = lookups.environment(self.repo, code)
        return extensions.allowlist(self._extension_lists(), env)

    def allow_extensions(self, code: str, given: Sequence[str]) -> Outcome:
        """Add extensions to an environment's list (``.`` for names without one)."""
        wanted = extensions.parse(given)
        env = lookups.environment(self.repo, code)
        current = self._locked_allowlist(env)
        added = [e for e in wanted if e not in current.extensions]
        if not added:
            return Outcome(
                False,
                _("already allowed in {code}: {extensions}").format(
                    code=env.code, extensions=shown_list(set(wanted))
                ),
            )
        self._extension_lists().save(env.id, current.extensions | set(added), self.policy.clock())
        self._audit("extensions.allow", env.code, extensions=sorted(added))
        return Outcome(
            True,
            _("now allowed in {code}: {extensions}.").format(
                code=env.code, extensions=shown_list(set(added))
            )
            + extensions.risk_note(added),
        )

    def remove_extensions(self, code: str, given: Sequence[str]) -> Outcome:
        """Take extensions off an environment's list: such files are refused from now on."""
        wanted = extensions.parse(given)
        env = lookups.environment(self.repo, code)
        current = self._locked_allowlist(env)
        removed = [e for e in wanted if e in current.extensions]
        if not removed:
            return Outcome(
                False,
                _("not allowed in {code} anyway: {extensions}").format(
                    code=env.code, extensions=shown_list(set(wanted))
                ),
            )
        left = current.extensions - set(removed)
        self._extension_lists().save(env.id, left, self.policy.clock())
        self._audit("extensions.remove", env.code, extensions=sorted(removed))
        done = (
            _("no longer allowed in {code}: {extensions}.")
            if left
            else _(
                "no longer allowed in {code}: {extensions}. No file can be uploaded there until "
                "one is allowed again."
            )
        )
        return Outcome(True, done.format(code=env.code, extensions=shown_list(set(removed))))

    def reset_extensions(self, code: str) -> Outcome:
        """Give an environment the default list again (it follows this release's default)."""
        env = lookups.environment(self.repo, code)
        current = self._locked_allowlist(env)
        if current.default:
            return Outcome(
                False, _("{code} already uses the default extensions").format(code=env.code)
            )
        self._extension_lists().forget(env.id)
        default = extensions.DEFAULT_EXTENSIONS
        self._audit(
            "extensions.reset",
            env.code,
            added=sorted(default - current.extensions),
            removed=sorted(current.extensions - default),
        )
        return Outcome(True, _("{code} uses the default extensions again").format(code=env.code))

    def _locked_allowlist(self, env: Environment) -> Allowlist:
        # Read for change (locked where the database can): a concurrent change waits
        # instead of being overwritten; on a list's first change one of two inserts fails.
        own = self._extension_lists().allowed(env.id, for_update=True)
        return Allowlist(env.code, own) if own is not None else Allowlist.of_default(env.code)

    # --- tokens
    def list_tokens(
        self, code: str | None = None, login: str | None = None, include_revoked: bool = False
    ) -> list[TokenView]:
        """User tokens of an environment and/or an account."""
        env_ids = [lookups.environment(self.repo, code).id] if code else None
        account_id = lookups.account(self.repo, login).id if login else None
        return self.repo.tokens(env_ids, account_id, include_revoked)

    def revoke_tokens(
        self,
        code: str,
        login: str | None = None,
        token_ids: Sequence[str] = (),
        workstation: str | None = None,
    ) -> Outcome:
        """Revoke tokens of an environment: by public id, by user, and/or by workstation."""
        env = lookups.environment(self.repo, code)
        views = self.list_tokens(env.code, login)
        if token_ids:
            unknown = set(token_ids) - {v.token.public_id for v in views}
            if unknown:
                raise DomainError(
                    ErrorCode.NOT_FOUND,
                    _(
                        "No active token {tokens} in {code}; list them with `koppel-admin tokens "
                        "list {code}`."
                    ).format(tokens=", ".join(sorted(unknown)), code=env.code),
                    environment=env.code,
                )
            views = [v for v in views if v.token.public_id in token_ids]
        if workstation:
            views = [
                v
                for v in views
                if workstation in (v.token.workstation_id, v.token.workstation_name)
            ]
        count = self.repo.revoke_tokens(
            [v.token.id for v in views], self.policy.clock(), RevokeReason.ADMINISTRATOR
        )
        if not count:
            return Outcome(False, _("no active token to revoke in {code}").format(code=env.code))
        self._audit(
            "token.revoke",
            env.code,
            tokens=[v.token.public_id for v in views],
            logins=sorted({v.account.login for v in views}),
        )
        for view in views:
            self._event(
                env.id,
                events.TOKEN_REVOKED,
                view.membership.id,
                environment=env.code,
                token=view.token.public_id,
                workstation_id=view.token.workstation_id,
                workstation_name=view.token.workstation_name,
            )
        return Outcome(
            True,
            ngettext(
                "{count} token revoked in {code}", "{count} tokens revoked in {code}", count
            ).format(count=count, code=env.code),
        )

    def revoke_workstation(
        self,
        workstation: str,
        login: str | None = None,
        firm: str | None = None,
        within: Sequence[str] | None = None,
        dry_run: bool = False,
    ) -> WorkstationRevocation:
        """Revoke every active token of a workstation (a lost laptop), given by its id or
        by its name exactly as the agent recorded it, in every environment of the host;
        only in ``firm`` and its clients, or only in the environments ``within`` (those a
        portal administrator administers). A name can be shared: without ``login`` every
        user's workstation of that name is revoked. Audited once per environment. A
        workstation with no token there is ``not_found`` and nothing changes; ``dry_run``
        only says what would be revoked."""
        wanted = workstation.strip()
        if not wanted:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, _("Give the workstation's name or id to revoke.")
            )
        env_ids, where = self._workstation_scope(firm, within)
        account_id = self._owner_id(login, lenient=within is not None)
        views = self.repo.tokens_of_workstation(wanted, env_ids, account_id)
        if not views:
            similar = revocation.similar_names(
                self.repo.workstation_names(env_ids, account_id), wanted
            )
            message = (
                _(
                    "No workstation named {wanted!r} (or with that id) has a token of {login} "
                    "{where}, so nothing was revoked. Names are matched exactly as the agent "
                    "recorded them; the tokens list shows each workstation's name and id."
                )
                if login
                else _(
                    "No workstation named {wanted!r} (or with that id) has a token {where}, so "
                    "nothing was revoked. Names are matched exactly as the agent recorded "
                    "them; the tokens list shows each workstation's name and id."
                )
            ).format(wanted=wanted, login=names.login(login) if login else "", where=where)
            if similar:
                message += " " + _("Similar names: {names}.").format(names=", ".join(similar))
            raise DomainError(ErrorCode.NOT_FOUND, message)
        if dry_run:
            ending = revocation.active(views, self.policy)
            return WorkstationRevocation(wanted, revocation.by_environment(ending), False)
        scope = {"firm": self._firm(firm).code} if firm else {}
        done = revocation.revoke(
            self.repo,
            self.events,
            self.policy,
            self.actor,
            views,
            RevokeReason.ADMINISTRATOR,
            matched=wanted,
            **scope,
        )
        return WorkstationRevocation(wanted, done, True)

    def _owner_id(self, login: str | None, lenient: bool) -> int | None:
        """Whose tokens a workstation revoke ends (None: every user's). An unknown login
        is ``not_found``; ``lenient`` (a portal administrator) makes it an id no token
        has, so they learn nothing of accounts outside what they administer."""
        if not login:
            return None
        if not lenient:
            return lookups.account(self.repo, login).id
        found = self.repo.account(names.login(login))
        return found.id if found else 0

    def _workstation_scope(
        self, firm: str | None, within: Sequence[str] | None
    ) -> tuple[list[int] | None, str]:
        """The environment ids a workstation revoke may touch (None: all) and how to
        name them in a sentence."""
        if firm is not None and within is not None:
            raise ValueError("give firm or within, not both")
        if firm is not None:
            firm_env = self._firm(firm)
            ids = [firm_env.id] + [c.id for c in self.repo.clients_of(firm_env.id)]
            return ids, _("in {firm} or its clients").format(firm=firm_env.code)
        if within is not None:
            return [e.id for e in self.repo.environments(list(within))], (
                _("in the environments you administer")
            )
        return None, _("on this server")

    # --- helpers
    def _supported(self, text: str) -> Update:
        try:
            update = Update.parse(text)
        except ValueError as exc:
            raise DomainError(ErrorCode.VALIDATION_ERROR, str(exc)) from exc
        if update not in self.policy.supported_updates:
            hosted = " and ".join(str(u) for u in self.policy.supported_updates)
            raise DomainError(
                ErrorCode.UPDATE_UNSUPPORTED,
                _("This server hosts updates {hosted}; update {update} is not one of them.").format(
                    hosted=hosted, update=update
                ),
            )
        return update

    def _firm(self, code: str) -> Environment:
        env = lookups.environment(self.repo, code)
        if env.kind is not Kind.FIRM:
            raise DomainError(
                ErrorCode.NOT_A_FIRM,
                _("{code} is a client environment; give the firm's environment code.").format(
                    code=env.code
                ),
                environment=env.code,
            )
        return env

    def _group(self, env: Environment, name: str) -> Group:
        group = self.repo.group(env.id, name)
        if group is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                _(
                    "Group {name!r} does not exist in {code}; create it with `koppel-admin "
                    "groups create {code} {name!r}`."
                ).format(name=name, code=env.code),
                environment=env.code,
            )
        return group
