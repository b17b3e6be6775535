"""What a ``koppel`` process loads: a command pays only for what it uses (every "Send to
Koppel" and every script call starts a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from dossier_support import link
from harness import BIN, Server, Workstation


def _imported(*args: str) -> set[str]:
    """The modules a real ``koppel`` process imported, from ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "koppel.agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_version_loads_neither_pydantic_nor_httpx() -> None:
    loaded = _imported("--version")
    assert "koppel.agent.cli" in loaded  # the measurement itself works
    assert not {"pydantic", "httpx", "keyring", "rich"} & loaded


def test_the_agent_keeps_httpx_from_loading_its_own_command_line() -> None:
    probe = (
        "import sys\n"
        "from koppel.agent.cli import _skip_httpx_command_line\n"
        "_skip_httpx_command_line()\n"
        "import httpx\n"
        "with httpx.Client() as client: pass\n"
        "print(sorted(m for m in ('rich', 'pygments', 'httpx') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [str(BIN / "python"), "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['httpx']"


def _imported_in(home: Path, *args: str) -> set[str]:
    """The modules a real ``koppel`` process imported, with its own agent home."""
    env = dict(os.environ, KOPPEL_AGENT_HOME=str(home))
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "koppel.agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_version_does_not_load_typer() -> None:
    loaded = _imported("--version")
    assert not {name for name in loaded if name.split(".")[0] in ("typer", "click")}
    done = subprocess.run(
        [str(BIN / "koppel"), "--version"], capture_output=True, text=True, timeout=60
    )
    from koppel.agent.version import AGENT_UPDATE_TEXT, VERSION

    assert done.stdout == f"koppel {VERSION} (update {AGENT_UPDATE_TEXT})\n"


@pytest.mark.parametrize("args", [["envs"], ["--help"], ["submit", "--help"], ["envs", "--help"]])
def test_commands_convert_their_values_without_pydantic(tmp_path: Path, args: list[str]) -> None:
    loaded = _imported_in(tmp_path, *args)
    assert "typer" in loaded  # the measurement itself works
    assert "pydantic" not in loaded
    assert "filelock" not in loaded  # nothing is locked to read the links


def test_help_still_lists_every_command() -> None:
    from koppel.agent.cli.typer_app import COMMANDS

    done = subprocess.run(
        [str(BIN / "koppel"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert done.returncode == 0
    for name, _ in COMMANDS:
        assert f" {name} " in done.stdout, name


def test_a_bad_number_is_refused_in_plain_words(tmp_path: Path) -> None:
    # The light conversion leaves a bad value to Typer; ``koppel`` says what it expected.
    env = dict(os.environ, KOPPEL_AGENT_HOME=str(tmp_path), COLUMNS="200")
    for value in ("abc", "500"):
        done = subprocess.run(
            [str(BIN / "koppel"), "items", "--limit", value],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 2
        assert done.stderr.startswith(
            f"Error: '{value}' is not a valid value for --limit: give a whole number from 1 "
            "to 200.\n"
        )
        assert "Traceback" not in done.stderr


# A small Typer app with the light conversion: choices, paths and lists as our commands
# may use them, each value printed with its type, and whether pydantic was loaded.
_PROBE = """
import enum, sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal, Optional
import typer
from koppel.agent.cli.light_coercion import install
if "TYPER_ONLY" not in __import__("os").environ:
    install()

class Colour(enum.Enum):
    red = "red"
    blue = "blue"

app = typer.Typer()

@app.command()
def main(
    files: list[Path],
    colour: Colour = Colour.red,
    kind: Optional[Literal["one", "two"]] = None,
    count: int = 1,
    ratio: float = 0.5,
    tags: Annotated[Optional[list[str]], typer.Option("--tag")] = None,
    yes: bool = False,
    since: Optional[datetime] = None,
) -> None:
    print(repr((files, colour, kind, count, ratio, tags, yes, since)))
    print("pydantic" in sys.modules)

app()
"""


def _probe(*args: str, typer_only: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    if typer_only:
        env["TYPER_ONLY"] = "1"
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_plain_values_convert_as_typer_converts_them() -> None:
    args = (
        "a.txt", "b/c.txt", "--colour", "blue", "--kind", "two", "--count", "3",
        "--ratio", "2", "--tag", "x", "--tag", "y", "--yes", "--since", "2026-01-05",
    )  # fmt: skip
    done = _probe(*args)
    assert done.returncode == 0, done.stderr
    value, pydantic_loaded = done.stdout.splitlines()
    files = [Path("a.txt"), Path("b/c.txt")]
    since = datetime(2026, 1, 5)
    assert value == (
        f"({files!r}, <Colour.blue: 'blue'>, 'two', 3, 2.0, ['x', 'y'], True, {since!r})"
    )
    assert pydantic_loaded == "False"
    assert value == _probe(*args, typer_only=True).stdout.splitlines()[0]


def test_left_out_values_and_defaults_convert_as_typer_converts_them() -> None:
    done = _probe("a.txt")
    assert done.returncode == 0, done.stderr
    value, pydantic_loaded = done.stdout.splitlines()
    assert pydantic_loaded == "False"  # not even for the datetime left out
    assert value == _probe("a.txt", typer_only=True).stdout.splitlines()[0]


def test_bad_values_are_refused_with_a_usage_error() -> None:
    for args, words in (
        (["a", "--colour", "green"], "Invalid value for '--colour'"),
        (["a", "--kind", "three"], "Invalid value for '--kind'"),
        (["a", "--count", "x"], "Input should be a valid integer"),
        (["a", "--ratio", "x"], "Input should be a valid number"),
        (["a", "--since", "2026-02-30"], "Invalid value for '--since'"),
    ):
        done = _probe(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert words in done.stderr, (args, done.stderr)
        assert done.stderr == _probe(*args, typer_only=True).stderr  # Typer's own words


def _loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_protocol_package_imports_none_of_its_modules() -> None:
    loaded = _loaded_by("import koppel.protocol")
    assert "koppel.protocol" in loaded
    assert not {name for name in loaded if name.startswith("koppel.protocol.")}
    assert "pydantic" not in loaded


def test_the_api_client_loads_neither_keyring_nor_rich_nor_typer() -> None:
    # What `koppel open` and `koppel submit` import before their first request; the token
    # store and progress bars load when they are used.
    loaded = _loaded_by(
        "from koppel.agent.cli import _skip_httpx_command_line\n"
        "_skip_httpx_command_line()\n"
        "import koppel.agent.api.client, koppel.agent.dossier"
    )
    assert "httpx" in loaded
    assert not {"keyring", "rich", "typer", "filelock"} & loaded


def test_the_light_conversion_stands_aside_when_typer_changes() -> None:
    # A Typer release without the private parts patched: Typer is left as it ships.
    probe = (
        "from typer import _coercion, core\n"
        "del _coercion.RuntimeParam\n"
        "before = core._TyperParameter.get_runtime_param\n"
        "from koppel.agent.cli.light_coercion import install\n"
        "install()\n"
        "print(core._TyperParameter.get_runtime_param is before)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


_BUILT = (
    "import sys\n"
    "{setup}\n"
    "from koppel.protocol._model import ProtocolModel\n"
    "import koppel.protocol.api, koppel.protocol.dossier, koppel.protocol.files\n"
    "models = [ProtocolModel]\n"
    "for model in models: models.extend(model.__subclasses__())\n"
    "print(sum(m.__pydantic_complete__ for m in models[1:]), len(models) - 1)\n"
)


def _built_models(setup: str) -> tuple[int, int]:
    """(protocol models built, protocol models defined) in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _BUILT.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    built, defined = done.stdout.split()
    return int(built), int(defined)


def test_the_agent_builds_a_protocol_model_only_when_it_uses_it() -> None:
    built, defined = _built_models("import koppel.agent.api")
    assert defined > 20
    assert built == 0
    built, _ = _built_models(
        "import koppel.agent.api\n"
        "from koppel.protocol.dossier import ItemList\n"
        "ItemList.model_validate({'items': [], 'total': 0})"
    )
    assert built >= 1


def test_the_server_builds_every_protocol_model_before_its_routes(tmp_path: Path) -> None:
    # Deferred models inside FastAPI's TypeAdapters made pydantic warn while the OpenAPI
    # document was generated: warnings are errors here.
    built, defined = _built_models(
        "import os, warnings\n"
        f"os.environ['KOPPEL_DATA_DIR'] = {str(tmp_path)!r}\n"
        "warnings.simplefilter('error')\n"
        "from koppel.server.adapters.app import create_app\n"
        "create_app().openapi()"
    )
    assert built == defined > 20


def test_the_quick_exit_still_waits_for_threads_runs_exit_handlers_and_keeps_the_status(
    tmp_path: Path,
) -> None:
    # `koppel` leaves with os._exit once its command is done (Python's teardown costs
    # ~50 ms); what Python's own exit guarantees must still happen.
    program = (
        "import atexit, sys, threading, time\n"
        "from pathlib import Path\n"
        "from koppel.agent.cli import entry\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    (folder / 'thread').write_text('done')\n"
        "threading.Thread(target=late).start()\n"
        "atexit.register(lambda: (folder / 'atexit').write_text('done'))\n"
        "sys.argv = ['koppel', *sys.argv[1:]]\n"
        "entry()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("koppel ")
    assert (tmp_path / "thread").read_text() == "done"
    assert (tmp_path / "atexit").read_text() == "done"
    refused = subprocess.run(
        [sys.executable, "-c", program, "no-such-command"], capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert "There is no command 'no-such-command'." in refused.stderr


@pytest.mark.parametrize(
    ("words", "expected"),
    [("koppel su", "submit"), ("koppel submit --tr", "--transfers"), ("koppel queue se", "send")],
)
def test_the_shell_completes_commands_and_options(words: str, expected: str) -> None:
    # What bash runs on Tab once `koppel --install-completion` (Typer's) is in place.
    env = dict(
        os.environ,
        _KOPPEL_COMPLETE="complete_bash",
        COMP_WORDS=words,
        COMP_CWORD=str(len(words.split()) - 1),
    )
    done = subprocess.run(
        [str(BIN / "koppel")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout.split()


def test_open_downloads_without_loading_pydantic(
    demo_server: Server, workstation: Callable[..., Workstation], tmp_path: Path
) -> None:
    # Every "open" from the portal or a file manager is a fresh process: it asks for the
    # item's content in one request and needs none of the protocol's models.
    ws = workstation("anna-laptop", KOPPEL_OPEN_COMMAND="true")
    link(ws, demo_server, "C20001", "anna")
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + b"x" * 300_000)
    item = ws.ok("submit", "--to", "D0001", "--type", "Invoice", "--json", str(scan)).json()
    opened = ["open", str(item["item"]["id"]), "--json"]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "koppel.agent", *opened],
        capture_output=True,
        text=True,
        timeout=60,
        env=ws.env,
        cwd=ws.home,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(json.loads(done.stdout)["path"]).read_bytes() == scan.read_bytes()
    loaded = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "httpx" in loaded  # the measurement itself works
    assert not {name for name in loaded if name.split(".")[0] in ("pydantic", "pydantic_core")}
    assert "koppel.agent.api.client" not in loaded
