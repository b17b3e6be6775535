"""Helpers of the dossier tests: link a workstation, talk to the dossier API with the
workstation's token (of the app in process or of a served one), and put files on the
server through the real tus endpoint."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx

from app_client import AppClient, InProcess
from harness import Server, Workstation

UPDATE = {"Koppel-Update": "2026.2"}


def link(ws: Workstation, server: Server, env: str, login: str) -> str:
    """Link ``env`` as ``login`` on the workstation; return the token it got."""
    ws.ok("link", str(ws.save_settings(server, env, login)))
    return token_of(ws, env)


def queue_overview(ws: Workstation, server: Server) -> tuple[httpx.Client, int]:
    """Link F10001 as anna and ask for its dossier overview over the API: a client of
    F10001's API with that token, and the pending file's id."""
    token = link(ws, server, "F10001", "anna")
    api = httpx.Client(
        base_url=f"{server.url}/api/v1/environments/F10001",
        headers={**UPDATE, "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    answer = api.post("analyses", json={"kind": "dossier-overview"})
    assert answer.status_code == 202, answer.text
    return api, int(answer.json()["file_id"])


def open_event_session(
    url: str, ws: Workstation, env: str, token: str, *, verify: bool = True
) -> str:
    """Open an event session of ``env`` for the workstation's agent at the server's
    ``url`` (as ``koppel watch`` does); the session id its stream is read with."""
    state = json.loads((ws.home / ".local/share/koppel/state.json").read_text())
    opened = httpx.post(
        f"{url}/api/v1/event-sessions",
        headers=UPDATE,
        json={
            "environments": [{"environment": env, "token": token}],
            "workstation_id": state["workstation"]["id"],
        },
        timeout=30,
        verify=verify,
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["session"])


def token_of(ws: Workstation, env: str) -> str:
    """The workstation's token of ``env`` (the 0600 file store)."""
    data = json.loads((ws.home / ".local/share/koppel/tokens.json").read_text())
    return next(t for key, t in data["tokens"].items() if key.split("|")[1] == env)


class Api:
    """The dossier API of one environment with one token."""

    def __init__(self, server: Server | InProcess, env: str, token: str) -> None:
        self.env = env
        path, headers = (
            f"/api/v1/environments/{env}",
            {**UPDATE, "Authorization": f"Bearer {token}"},
        )
        self.http: httpx.Client | AppClient = (
            server.client(path=path, headers=headers)
            if isinstance(server, InProcess)
            else httpx.Client(base_url=f"{server.url}{path}", headers=headers, timeout=30)
        )

    def upload(self, name: str, data: bytes, media_type: str = "text/plain") -> str:
        """Upload a file with tus (creation + one PATCH); return the upload id."""
        meta = ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}"
            for k, v in {"filename": name, "filetype": media_type}.items()
        )
        tus = {"Tus-Resumable": "1.0.0"}
        created = self.http.post(
            "uploads",
            headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
        )
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        patched = self.http.patch(
            location,
            content=data,
            headers={
                **tus,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert patched.status_code == 204, patched.text
        return location.rstrip("/").rsplit("/", 1)[-1]

    def create_item(
        self,
        subject: str,
        type_name: str,
        destination: str,
        files: dict[str, bytes],
        submission_id: str | None = None,
    ) -> httpx.Response:
        """POST items with freshly uploaded files."""
        uploads = [self.upload(name, data) for name, data in files.items()]
        return self.http.post(
            "items",
            json={
                "submission_id": submission_id or uuid.uuid4().hex,
                "subject": subject,
                "type": type_name,
                "destination": destination,
                "uploads": uploads,
            },
        )

    def item(self, subject: str, type_name: str, files: dict[str, bytes]) -> dict[str, Any]:
        """Create an item about the organisation and insist it worked."""
        response = self.create_item(subject, type_name, "ORG", files)
        assert response.status_code == 201, response.text
        found: dict[str, Any] = response.json()
        return found

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def save_version(
        self, item: int, attachment: int, data: bytes, etag: str, name: str = "f.txt", **extra: Any
    ) -> httpx.Response:
        """Upload ``data`` and post it as a new version with If-Match ``etag``."""
        upload = self.upload(name, data)
        return self.http.post(
            f"items/{item}/attachments/{attachment}/versions",
            json={"upload": upload, **extra},
            headers={"If-Match": etag},
        )


def code_of(response: httpx.Response) -> str:
    """The error code of a refusal."""
    code: str = response.json()["code"]
    return code
