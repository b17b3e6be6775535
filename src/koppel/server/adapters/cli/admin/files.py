"""``koppel-admin files``: users' My files (publish a file to a user, list them)."""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from pathlib import Path
from typing import Annotated

import typer

from koppel.protocol.sizes import format_size
from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, Refusal, reporting, state_of

app = typer.Typer(
    help="My files: files made for users (analyses, integrations), delivered by their agents.",
    no_args_is_help=True,
)

_CHUNK = 1024 * 1024


@app.command("publish")
def files_publish(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    login: Annotated[str, typer.Argument(help="The user who receives the file.")],
    path: Annotated[Path, typer.Argument(help="The file to publish.")],
    name: Annotated[
        str | None, typer.Option("--name", help="The name the user sees; default: the file's.")
    ] = None,
    json_mode: JsonOption = False,
) -> None:
    """Put a file into a user's My files: it is ready at once and their agents get it."""
    from koppel.server.domain import lookups
    from koppel.server.domain import my_files as ob
    from koppel.server.domain.transfer import extensions

    with reporting(json_mode):
        if not path.is_file():
            raise Refusal(f"{path} is not a readable file.", 2)
        svc = state_of(ctx).services()
        shown = ob.check_name(name or path.name)
        with svc.transaction() as uow:
            env = lookups.environment(uow.core, code)
            member = lookups.membership(uow.core, env, lookups.account(uow.core, login))
            # Refused before the file is read, as on every other way in.
            extensions.check(extensions.allowlist(uow.extensions, env), shown)
        partial, key = f"publish-{uuid.uuid4().hex}", f"outbox/{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size = svc.blobs.append(partial, [chunk])
        if size == 0:
            svc.blobs.discard_partial(partial)
            raise Refusal(f"{path} is empty; nothing was published.")
        svc.blobs.commit(partial, key)
        try:
            with svc.transaction() as uow:
                file = ob.publish(
                    uow.my_files,
                    uow.events,
                    svc.policy.clock(),
                    env.id,
                    member.id,
                    name=shown,
                    media_type=mimetypes.guess_type(shown)[0] or "application/octet-stream",
                    size=size,
                    sha256=digest.hexdigest(),
                    blob_key=key,
                    allowed=extensions.allowlist(uow.extensions, env),
                )
        except BaseException:
            svc.blobs.delete(key)
            raise
    data = {
        "id": file.id,
        "environment": env.code,
        "login": login,
        "name": file.name,
        "size": file.size,
        "sha256": file.sha256,
    }
    if json_mode:
        out.emit_json(data)
    else:
        out.write(
            f"published {file.name} ({format_size(size)}) as file {file.id} for {login} "
            f"in {env.code}"
        )


@app.command("list")
def files_list(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Environment code.")],
    user: Annotated[str | None, typer.Option("--user", help="Only this login's files.")] = None,
    json_mode: JsonOption = False,
) -> None:
    """List the My files of an environment's users: id, user, name, state, size, created."""
    from koppel.server.domain import lookups

    with reporting(json_mode):
        svc = state_of(ctx).services()
        with svc.transaction() as uow:
            env = lookups.environment(uow.core, code)
            members = {v.membership.id: v.account.login for v in uow.core.members([env.id])}
            if user is not None:
                wanted = lookups.membership(uow.core, env, lookups.account(uow.core, user)).id
                members = {wanted: members[wanted]}
            files = uow.my_files.of_memberships(list(members))
    rows = [
        {
            "id": f.id,
            "login": members[f.membership_id],
            "name": f.name,
            "state": f.state,
            "source": f.source,
            "size": f.size,
            "sha256": f.sha256,
            "error": f.error,
            "created": f.created_at,
            "ready": f.ready_at,
        }
        for f in files
    ]
    if json_mode:
        out.emit_json({"environment": env.code, "files": rows})
        return
    out.table(
        ["id", "user", "name", "state", "size", "created"],
        [
            (
                f.id,
                members[f.membership_id],
                f.name,
                f.state,
                "" if f.size is None else format_size(f.size),
                f.created_at,
            )
            for f in files
        ],
        f"My files in {env.code}",
    )
