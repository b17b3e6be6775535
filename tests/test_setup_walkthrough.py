"""The set-up procedure walked the way a new administrator walks it (issue 10): a fresh
data folder, the server on a non-default port with no address configured, ``koppel-admin``
with only the flags its ``--help`` and the README name, a firm, three clients and two
employees, then two workstations that link everything and exchange a document. Every
step is the real executable; nothing is arranged behind the administrator's back."""

from __future__ import annotations

from pathlib import Path

from harness import Server, Workstation, make_server, make_workstation

PASSWORDS = {"anna": "anna-correct-horse-1", "bram": "bram-battery-staple-2"}
FIRM = "F50001"
CLIENTS = {"C60001": "Bakkerij Jansen", "C60002": "Garage Visser", "C60003": "Bloemen Bos"}


def _administrator_sets_up(server: Server) -> None:
    for login, name in (("anna", "Anna de Boer"), ("bram", "Bram Smit")):
        made = server.admin(
            "accounts", "create", login, "--name", name, "--password-stdin",
            stdin=PASSWORDS[login] + "\n",
        )  # fmt: skip
        assert made.returncode == 0, made.output
    server.ok("env", "create", FIRM, "--name", "Dekker & Co Accountants", "--kind", "firm")
    server.ok("users", "add", FIRM, "anna", "bram")
    server.ok("setup", "firm", FIRM)
    # The firm's own dossier, made its clients' template before they are set up.
    csv = server.data_dir.parent / "destinations.csv"
    csv.write_text("code,name,kind\nORG,Dekker & Co,organisation\nD0001,Debiteuren,debtor\n")
    server.ok("destinations", "import", FIRM, str(csv))
    server.ok("item-types", "create", FIRM, "Invoice")
    server.ok("template", "copy-from", FIRM, FIRM)
    for code, name in CLIENTS.items():
        server.ok("env", "create", code, "--name", name, "--kind", "client", "--firm", FIRM)
    server.ok("setup", "client", *CLIENTS, "--firm", FIRM, "--user", "anna", "--user", "bram")


def _employee_links(ws: Workstation, server: Server, login: str) -> None:
    password = PASSWORDS[login]
    ws.ok("link", str(ws.save_settings(server, FIRM, login, password=password)))
    bundle = ws.save_settings(server, FIRM, login, bundle=True, password=password)
    linked = ws.ok("link", str(bundle), "--json").json()
    assert sorted(linked["linked"]) == sorted(CLIENTS), linked
    assert linked.get("skipped", []) == [], linked


def test_a_new_firm_walks_the_procedure_without_a_wrong_turn(tmp_path: Path) -> None:
    server = make_server(tmp_path, process=True)
    del server.env["KOPPEL_PUBLIC_URL"]  # the server knows its address from where it listens
    server.start()
    try:
        _administrator_sets_up(server)
        check = server.admin("check", "--all")
        assert check.returncode == 0, check.output
        assert "4 of 4 environments complete" in check.stdout

        laptops = {
            login: make_workstation(tmp_path, f"{login}-laptop") for login in ("anna", "bram")
        }
        for login, ws in laptops.items():
            _employee_links(ws, server, login)
            envs = ws.ok("envs", "--json").json()
            assert sorted(e["code"] for e in envs) == sorted([FIRM, *CLIENTS])
            doctor = ws.koppel("doctor")
            assert doctor.returncode == 0, doctor.output

        # A document goes from bram's laptop into a client's dossier; anna sees it.
        scan = tmp_path / "factuur-2026-114.pdf"
        scan.write_bytes(b"%PDF-1.4 factuur\n" * 64)
        bram, anna = laptops["bram"], laptops["anna"]
        bram.ok("submit", str(scan), "--to", "D0001", "--type", "Invoice", "--env", "C60002")
        listed = anna.ok("items", "--env", "C60002", "--json").json()
        assert [a["name"] for i in listed["items"] for a in i["attachments"]] == [scan.name]
    finally:
        server.stop()
