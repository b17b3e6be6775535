"""``koppel-admin secret-key``: the key that encrypts the secrets in the database (TOTP
secrets, the settings-signing key); see docs/secret-key.md."""

from __future__ import annotations

import dataclasses

import typer

from koppel.protocol.counts import counted, noun
from koppel.server.adapters.cli.admin import output as out
from koppel.server.adapters.cli.admin.common import JsonOption, Refusal, reporting, state_of

app = typer.Typer(
    help="The secret key that encrypts the secrets in the database: where it is, which "
    "keys the database needs, rotation. Back it up apart from the database.",
    no_args_is_help=True,
)


@app.command("generate")
def generate() -> None:
    """Print a new key (for KOPPEL_SECRET_KEY); changes nothing."""
    from koppel.server.adapters.secret_key import Key

    out.write(Key.new().text)


@app.command("status")
def status(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """Where the keys are, which one encrypts, and how many stored secrets each one
    encrypted (a key that encrypts nothing is only needed for older backups)."""
    from koppel.server.adapters import key_rotation

    state = state_of(ctx)
    with reporting(json_mode):
        found = key_rotation.status(state.services().database)
    if json_mode:
        out.emit_json(dataclasses.asdict(found))
        return
    lines = [f"keys from  {found.source}"]
    for key in found.keys:
        role = "encrypts" if key.encrypts else "decrypts only"
        lines.append(f"key {key.id}  {role:<13}  {counted(key.values, 'secret')}")
    if found.plain:
        lines.append(
            f"plain      {counted(found.plain, 'secret')} not yet encrypted (start the server)"
        )
    out.write("\n".join(lines))


@app.command("rotate")
def rotate(ctx: typer.Context, json_mode: JsonOption = False) -> None:
    """Encrypt every secret in the database with a new key, audited.

    \b
    With the key file: a new key is written first in it; the older keys stay after it
    (backups of the database made before need them) and a running server takes the new
    key at once. With KOPPEL_SECRET_KEY: put a new key (`secret-key generate`) first in
    the variable on every server, the old one after it, restart them, then rotate.
    """
    from koppel.server.adapters import key_rotation

    state = state_of(ctx)
    with reporting(json_mode):
        svc = state.services()
        try:
            done = key_rotation.rotate(svc.database, svc.policy, state.actor)
        except key_rotation.NothingToRotate as exc:
            raise Refusal(str(exc)) from None
    if json_mode:
        out.emit_json({"changed": True, **dataclasses.asdict(done)})
        return
    older = ""
    if done.previous:
        verb = "decrypts" if len(done.previous) == 1 else "decrypt"
        older = (
            f"; the older {noun(len(done.previous), 'key')} {', '.join(done.previous)} still {verb}"
        )
    out.write(
        f"✓ every secret ({done.values}) is encrypted with key {done.key} from "
        f"{done.source}{older}. Back the key up now, apart from the database."
    )
