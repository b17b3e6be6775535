"""'My devices': a portal user's own tokens, grouped by workstation, and revoking them.

A user sees only their own tokens, and only in the environments of the portal they are
signed in to (the portal's own and, on a firm's portal, its clients'). A token id that is
not theirs there is ``not_found``, exactly like one that does not exist, so nobody learns
about other people's workstations by guessing ids.

"This device is lost" is the one exception to the portal's bounds: it revokes the
device's links in every environment of the user, also those of other portals (a lost
laptop must stop working everywhere), after a confirmation page that lists them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from koppel.i18n import gettext as _
from koppel.protocol.errors import ErrorCode
from koppel.server.domain.errors import DomainError
from koppel.server.domain.events import EventRepository
from koppel.server.domain.links import revocation
from koppel.server.domain.model import Account, Environment, Kind, RevokeReason, TokenView
from koppel.server.domain.policy import Policy
from koppel.server.domain.repository import Repository

# Ended tokens stay listed this long, so a user sees what was revoked or replaced lately
# without every relink of the past years piling up.
RECENTLY_ENDED = timedelta(days=30)

_ENDED = {
    RevokeReason.ADMINISTRATOR: "revoked by an administrator",
    RevokeReason.REPLACED: "replaced by a newer link",
    RevokeReason.UNLINKED: "unlinked on the workstation",
    RevokeReason.ENVIRONMENT_DELETED: "environment removed",
    RevokeReason.USER: "revoked by you",
}


@dataclass(frozen=True)
class DeviceToken:
    """One token as the devices page shows it."""

    view: TokenView
    active: bool
    # "active", "revoked (reason)" or "expired".
    state: str

    @property
    def public_id(self) -> str:
        """The id a revoke form names (never the secret)."""
        return self.view.token.public_id


@dataclass(frozen=True)
class Device:
    """One workstation of the user, with its tokens on this portal (newest first)."""

    workstation_id: str
    workstation_name: str
    tokens: tuple[DeviceToken, ...]
    # Its active links in environments of other portals ("this device is lost" ends them too).
    active_elsewhere: int = 0

    @property
    def active(self) -> tuple[DeviceToken, ...]:
        """The tokens that still give this workstation access."""
        return tuple(t for t in self.tokens if t.active)

    @property
    def last_used(self) -> datetime | None:
        """When this workstation last used any of its tokens."""
        used = [t.view.token.last_used_at for t in self.tokens if t.view.token.last_used_at]
        return max(used) if used else None


@dataclass(frozen=True)
class Revoked:
    """What a revoke did: the tokens that stopped working (none if all had ended)."""

    tokens: tuple[TokenView, ...]
    workstation_name: str

    @property
    def message(self) -> str:
        """One sentence for the page."""
        if not self.tokens:
            return f"Nothing to revoke: {self.workstation_name} had no active access left."
        codes = revocation.codes_text(sorted({v.environment.code for v in self.tokens}))
        return (
            f"{self.workstation_name} no longer has access to {codes}. To use it there "
            "again, download the settings and run `koppel link FILE` on it."
        )


def _portal_environments(repo: Repository, portal: Environment) -> list[Environment]:
    envs = [portal]
    if portal.kind is Kind.FIRM:
        envs += repo.clients_of(portal.id)
    return envs


def _own_tokens(
    repo: Repository, portal: Environment, account: Account, include_revoked: bool
) -> list[TokenView]:
    env_ids = [e.id for e in _portal_environments(repo, portal)]
    views = repo.tokens(env_ids, account.id, include_revoked)
    # The repository already filters; checking again keeps the rule visible here.
    return [v for v in views if v.account.id == account.id and v.environment.id in env_ids]


def _is_own(repo: Repository, portal: Environment, account: Account, view: TokenView) -> bool:
    env_ids = {e.id for e in _portal_environments(repo, portal)}
    return view.account.id == account.id and view.environment.id in env_ids


def _state(view: TokenView, now: datetime) -> DeviceToken:
    token = view.token
    if token.revoked_at is not None:
        why = _ENDED.get(token.revoked_reason) if token.revoked_reason else None
        return DeviceToken(view, False, f"revoked ({why})" if why else "revoked")
    if token.expired(now):
        return DeviceToken(view, False, "expired")
    return DeviceToken(view, True, "active")


def _ended_at(view: TokenView) -> datetime | None:
    return view.token.revoked_at or view.token.expires_at


def devices_of(
    repo: Repository, policy: Policy, portal: Environment, account: Account
) -> list[Device]:
    """The user's workstations with their tokens in this portal's environments: active
    tokens and those ended within ``RECENTLY_ENDED`` (except replaced ones); workstations
    with access first, the most recently used first."""
    now = policy.clock()
    by_workstation: dict[str, list[DeviceToken]] = {}
    for view in _own_tokens(repo, portal, account, include_revoked=True):
        entry = _state(view, now)
        ended = _ended_at(view)
        if not entry.active and ended is not None and ended < now - RECENTLY_ENDED:
            continue
        if view.token.revoked_reason is RevokeReason.REPLACED:
            continue  # the newer link of the same workstation stands in its place
        by_workstation.setdefault(view.token.workstation_id, []).append(entry)
    here = {e.id for e in _portal_environments(repo, portal)}
    elsewhere: dict[str, int] = {}
    for view in revocation.active(repo.tokens(None, account.id), policy):
        if view.environment.id not in here:
            elsewhere[view.token.workstation_id] = elsewhere.get(view.token.workstation_id, 0) + 1
    devices = []
    for key, entries in by_workstation.items():
        # Active first, by environment; ended ones after, newest first.
        entries.sort(key=lambda t: -t.view.token.created_at.timestamp())
        entries.sort(key=lambda t: (not t.active, t.view.environment.code if t.active else ""))
        # The newest token carries the name the workstation goes by now.
        newest = max(entries, key=lambda t: t.view.token.created_at)
        devices.append(
            Device(key, newest.view.token.workstation_name, tuple(entries), elsewhere.get(key, 0))
        )
    devices.sort(key=lambda d: d.last_used or d.tokens[0].view.token.created_at, reverse=True)
    devices.sort(key=lambda d: not d.active)
    return devices


def _not_found(portal: Environment, what: str) -> DomainError:
    return DomainError(
        ErrorCode.NOT_FOUND,
        _(
            "{what} is not one of your devices on the portal of {code}. Reload My devices to "
            "see the ones you have."
        ).format(what=what, code=portal.code),
    )


def _revoke(
    repo: Repository,
    event_store: EventRepository | None,
    policy: Policy,
    account: Account,
    views: Sequence[TokenView],
) -> tuple[TokenView, ...]:
    done = revocation.revoke(repo, event_store, policy, account.login, views, RevokeReason.USER)
    return tuple(view for env in done for view in env.tokens)


def revoke_token(
    repo: Repository,
    event_store: EventRepository | None,
    policy: Policy,
    portal: Environment,
    account: Account,
    public_id: str,
) -> Revoked:
    """Revoke one of the user's own tokens on this portal (audited, reason ``user``);
    anyone else's, or one in another portal's environments, is ``not_found``."""
    view = repo.tokens_by_public_id([public_id]).get(public_id) if public_id else None
    if view is None or not _is_own(repo, portal, account, view):
        raise _not_found(portal, _("Token {public_id}").format(public_id=public_id))
    return Revoked(_revoke(repo, event_store, policy, account, [view]), view.token.workstation_name)


def revoke_workstation(
    repo: Repository,
    event_store: EventRepository | None,
    policy: Policy,
    portal: Environment,
    account: Account,
    workstation_id: str,
) -> Revoked:
    """Revoke every active token of one of the user's workstations on this portal (a lost
    laptop); a workstation without a token of theirs here is ``not_found``."""
    views = [
        v
        for v in _own_tokens(repo, portal, account, include_revoked=True)
        if v.token.workstation_id == workstation_id
    ]
    if not views:
        raise _not_found(portal, _("This workstation"))
    newest = max(views, key=lambda v: v.token.created_at)
    return Revoked(
        _revoke(repo, event_store, policy, account, views), newest.token.workstation_name
    )


@dataclass(frozen=True)
class LostDevice:
    """What "this device is lost" would end: the device's active links in every
    environment of the user, per environment (for the confirmation page)."""

    workstation_id: str
    workstation_name: str
    environments: tuple[revocation.EnvironmentRevocation, ...]

    @property
    def count(self) -> int:
        """How many links."""
        return sum(len(e.tokens) for e in self.environments)


def _device_everywhere(
    repo: Repository, portal: Environment, account: Account, workstation_id: str
) -> tuple[list[TokenView], str]:
    # The device must be one of theirs on this portal, as for the other buttons.
    here = [
        v
        for v in _own_tokens(repo, portal, account, include_revoked=True)
        if v.token.workstation_id == workstation_id
    ]
    if not workstation_id or not here:
        raise _not_found(portal, _("This workstation"))
    # By id only: another of the user's workstations may go by the same name.
    views = [
        v
        for v in repo.tokens_of_workstation(workstation_id, None, account.id)
        if v.token.workstation_id == workstation_id and v.account.id == account.id
    ]
    newest = max(views, key=lambda v: v.token.created_at)
    return views, newest.token.workstation_name


def lost_device(
    repo: Repository, policy: Policy, portal: Environment, account: Account, workstation_id: str
) -> LostDevice:
    """The links "this device is lost" would revoke: the device's active tokens in every
    environment of the user, also other portals'; a device without a token of theirs on
    this portal is ``not_found``."""
    views, name = _device_everywhere(repo, portal, account, workstation_id)
    ending = revocation.by_environment(revocation.active(views, policy))
    return LostDevice(workstation_id, name, ending)


def revoke_lost_device(
    repo: Repository,
    event_store: EventRepository | None,
    policy: Policy,
    portal: Environment,
    account: Account,
    workstation_id: str,
) -> Revoked:
    """ "This device is lost": revoke the device's tokens in every environment of the
    user (reason ``user``), audited once per environment; ``not_found`` as ``lost_device``."""
    views, name = _device_everywhere(repo, portal, account, workstation_id)
    return Revoked(_revoke(repo, event_store, policy, account, views), name)
