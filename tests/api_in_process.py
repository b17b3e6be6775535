"""The agent API of the in-process app with one user's token: tus uploads, items, new
versions, My files. The in-process twin of ``dossier_support.Api``, plus ``publish`` (what
``koppel-admin files publish`` does) so that tests can give a user a ready file.

    anna = AgentApi(demo_app, "C20001", "anna")
    item = anna.create_item("Offer", "Correspondence", "ORG", {"offer.txt": b"v1"})
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import httpx

from app_client import InProcess, bearer

TUS = {"Tus-Resumable": "1.0.0"}


class AgentApi:
    """One workstation's token for ``env`` as ``login``, and calls of the agent API."""

    def __init__(self, app: InProcess, env: str, login: str = "anna") -> None:
        self.app, self.env, self.login = app, env, login
        self.workstation = f"ws-{uuid.uuid4().hex[:8]}"
        self.token = app.token(env, login, self.workstation)
        self.http = app.client()
        self.base = f"/api/v1/environments/{env}"

    @property
    def headers(self) -> dict[str, str]:
        """The headers of an agent request with this token."""
        return bearer(self.token)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``method`` on ``path`` (relative to the environment) with this token."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.base}/{path}", headers=headers, **kwargs)

    def new_upload(self, name: str, size: int) -> str:
        """A tus upload of ``size`` bytes, created and left empty; its id."""
        meta = f"filename {base64.b64encode(name.encode()).decode()}"
        created = self.request(
            "POST", "uploads", headers={**TUS, "Upload-Length": str(size), "Upload-Metadata": meta}
        )
        assert created.status_code == 201, created.text
        return created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]

    def upload(self, name: str, data: bytes) -> str:
        """A finished tus upload (creation and one PATCH); its id."""
        upload_id = self.new_upload(name, len(data))
        patched = self.request(
            "PATCH",
            f"uploads/{upload_id}",
            content=data,
            headers={
                **TUS,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert patched.status_code == 204, patched.text
        return upload_id

    def create_item(
        self, subject: str, type_name: str, destination: str, files: dict[str, bytes]
    ) -> dict[str, Any]:
        """A new item of freshly uploaded files; the ``ItemOut``."""
        uploads = [self.upload(name, data) for name, data in files.items()]
        created = self.request(
            "POST",
            "items",
            json={
                "submission_id": uuid.uuid4().hex,
                "subject": subject,
                "type": type_name,
                "destination": destination,
                "uploads": uploads,
            },
        )
        assert created.status_code == 201, created.text
        item: dict[str, Any] = created.json()
        return item

    def new_version(self, item: dict[str, Any], data: bytes) -> dict[str, Any]:
        """Save ``data`` as the next version of the item's first attachment."""
        attachment = item["attachments"][0]
        saved = self.request(
            "POST",
            f"items/{item['id']}/attachments/{attachment['id']}/versions",
            json={"upload": self.upload(attachment["name"], data)},
            headers={"If-Match": attachment["current"]["etag"]},
        )
        assert saved.status_code == 201, saved.text
        version: dict[str, Any] = saved.json()
        return version

    def open_editing(self) -> None:
        """Unblock the environment's temporary-office-access connector (as an
        administrator would), which editing and new versions need."""
        from koppel.server.domain.model import ConnectorName
        from koppel.server.domain.setup.administration import Admin

        with self.app.transaction() as uow:
            admin = Admin(uow.core, self.app.svc.policy, "test")
            admin.set_connector_blocked(self.env, ConnectorName.TEMPORARY_OFFICE_ACCESS, False)

    def publish(self, name: str, data: bytes) -> int:
        """Put a ready file into this user's My files (as ``koppel-admin files publish``
        does); its id."""
        from koppel.server.domain import lookups
        from koppel.server.domain import my_files as ob
        from koppel.server.domain.transfer import extensions

        svc = self.app.svc
        partial, key = f"test-{uuid.uuid4().hex}", f"outbox/{uuid.uuid4().hex}"
        svc.blobs.append(partial, [data])
        svc.blobs.commit(partial, key)
        with svc.transaction() as uow:
            env = lookups.environment(uow.core, self.env)
            member = lookups.membership(uow.core, env, lookups.account(uow.core, self.login))
            file = ob.publish(
                uow.my_files,
                uow.events,
                svc.policy.clock(),
                env.id,
                member.id,
                name=name,
                media_type="text/plain",
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                blob_key=key,
                allowed=extensions.allowlist_of(uow.extensions, env.id, env.code),
            )
        return file.id

    # -- the dossier as a reader sees it, analyses, My files

    def file_item(self, subject: str, type_name: str, destination: str, size: int = 10) -> int:
        """File an item with one attachment of ``size`` bytes; its id."""
        files = {f"{subject}.txt": b"x" * size}
        return int(self.create_item(subject, type_name, destination, files)["id"])

    def listed(self, destination: str | None = None, page: int = 2) -> dict[int, dict[str, Any]]:
        """Every item the user may list (read over pages of ``page``), by id."""
        found: dict[int, dict[str, Any]] = {}
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": page, "offset": offset}
            if destination:
                params["destination"] = destination
            answer = self.request("GET", "items", params=params)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            found.update({item["id"]: item for item in body["items"]})
            offset += page
            if offset >= body["total"]:
                assert len(found) == body["total"]
                return found

    def analysis(self, kind: str, destination: str | None = None) -> int:
        """Ask for an analysis; the id of its (pending) file."""
        answer = self.request("POST", "analyses", json={"kind": kind, "destination": destination})
        assert answer.status_code == 202, answer.text
        return int(answer.json()["file_id"])

    def content(self, file_id: int) -> bytes:
        """The content of a ready file of My files."""
        got = self.request("GET", f"files/{file_id}/content")
        assert got.status_code == 200, got.text
        return got.content
