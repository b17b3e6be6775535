"""``koppel doctor``: check every link and print the fix for each problem."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.agent.cli.common import JsonOption, reporting
from koppel.agent.exit_codes import ExitCode
from koppel.agent.output import note, print_json, print_table
from koppel.protocol.counts import counted


def doctor(
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="Check only this environment (repeatable)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check every linked environment and print the fix for each problem.

    Reachable server, token valid (not revoked), app connector open, authorizations
    present, same update as this agent. One request per server. Exits 3 on any problem.
    """
    with reporting(json_output):
        from koppel.agent import doctor as doctor_mod

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
                }
            )
        elif not findings:
            note("No environment is linked yet. Link one with `koppel link FILE`.")
        else:
            print_table(
                ("ENVIRONMENT", "STATE", "MESSAGE"),
                [(f.environment, f.state, f.message) for f in findings],
            )
            # One line per fix: a fix about updates concerns many environments at once.
            by_fix: dict[str, list[str]] = {}
            for finding in problems:
                by_fix.setdefault(finding.fix, []).append(finding.environment)
            for fix, codes in by_fix.items():
                more = f" and {len(codes) - 10} more" if len(codes) > 10 else ""
                note(f"{', '.join(codes[:10])}{more}: {fix}.")
            note(
                f"{len(findings) - len(problems)} of {counted(len(findings), 'environment')} ok"
                + (f", {len(problems)} with problems." if problems else ".")
            )
        if problems:
            raise typer.Exit(int(ExitCode.PROBLEMS))
