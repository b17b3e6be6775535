"""``koppel doctor``: check every link and print the fix for each problem."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from koppel.agent.cli.common import JsonOption, reporting

if TYPE_CHECKING:
    from koppel.agent.api.proxy import ProxyChoice
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
    present, same update as this agent. One request per server. Also names the proxy the
    requests go through (HTTPS_PROXY/NO_PROXY, else the system's proxy settings). Exits 3
    on any problem.

    Example: `koppel doctor --env F10001`
    """
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
        if not json_output:
            _say_proxies(proxies)
        if problems:
            raise typer.Exit(int(ExitCode.PROBLEMS))


def _say_proxies(proxies: list[ProxyChoice]) -> None:
    # One line when every server is reached the same way (the usual case).
    if len({(c.url, c.source, c.bypassed_by) for c in proxies}) == 1:
        note(f"Network: requests go {proxies[0].describe()}.")
        return
    for choice in proxies:
        note(f"Network: requests to {choice.server} go {choice.describe()}.")
