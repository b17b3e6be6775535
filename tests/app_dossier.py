"""One user's agent API of one environment in process (``demo_app``): tus uploads, items,
the item listing over all its pages, analyses and My files."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from app_client import InProcess, bearer

PAGE = 2  # small pages: a listing is read over several of them


class User:
    """One user's agent API of one environment, in process."""

    def __init__(self, app: InProcess, env: str, login: str) -> None:
        self.app, self.env, self.login = app, env, login
        self.http = app.client()
        self.headers = bearer(app.token(env, login))
        self.base = f"/api/v1/environments/{env}"

    def upload(self, name: str, data: bytes) -> str:
        """A finished tus upload; its id."""
        meta = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in {"filename": name, "filetype": "text/plain"}.items()
        )
        tus = {**self.headers, "Tus-Resumable": "1.0.0"}
        created = self.http.post(
            f"{self.base}/uploads",
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

    def item(self, subject: str, type_name: str, destination: str, size: int = 10) -> int:
        """File an item with one attachment of ``size`` bytes; its id."""
        created = self.http.post(
            f"{self.base}/items",
            headers=self.headers,
            json={
                "submission_id": uuid.uuid4().hex,
                "subject": subject,
                "type": type_name,
                "destination": destination,
                "uploads": [self.upload(f"{subject}.txt", b"x" * size)],
            },
        )
        assert created.status_code == 201, created.text
        return int(created.json()["id"])

    def listed(self, destination: str | None = None) -> dict[int, dict[str, Any]]:
        """Every item the user may list (all pages), by id."""
        found: dict[int, dict[str, Any]] = {}
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": PAGE, "offset": offset}
            if destination:
                params["destination"] = destination
            page = self.http.get(f"{self.base}/items", headers=self.headers, params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            found.update({item["id"]: item for item in body["items"]})
            offset += PAGE
            if offset >= body["total"]:
                assert len(found) == body["total"]
                return found

    def request(self, kind: str, destination: str | None = None) -> int:
        """Ask for an analysis; the id of its (pending) file."""
        answer = self.http.post(
            f"{self.base}/analyses",
            headers=self.headers,
            json={"kind": kind, "destination": destination},
        )
        assert answer.status_code == 202, answer.text
        return int(answer.json()["file_id"])

    def workbook(self, file_id: int) -> bytes:
        """The content of a ready file of My files."""
        got = self.http.get(f"{self.base}/files/{file_id}/content", headers=self.headers)
        assert got.status_code == 200, got.text
        return got.content
