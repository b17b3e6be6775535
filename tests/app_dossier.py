"""One user's agent API of one environment in process (``demo_app``): the dossier calls
of ``dossier_support.Api`` plus the item listing over all its pages, analyses and My
files."""

from __future__ import annotations

from typing import Any

from app_client import InProcess, bearer
from dossier_support import Api

PAGE = 2  # small pages: a listing is read over several of them


class User(Api):
    """One user's agent API of one environment, in process."""

    def __init__(self, app: InProcess, env: str, login: str) -> None:
        self.app, self.env, self.login = app, env, login
        self.http = app.client(
            path=f"/api/v1/environments/{env}/", headers=bearer(app.token(env, login))
        )

    def item(  # type: ignore[override]
        self, subject: str, type_name: str, destination: str, size: int = 10
    ) -> int:
        """File an item with one attachment of ``size`` bytes; its id."""
        created = self.create_item(subject, type_name, destination, {f"{subject}.txt": b"x" * size})
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
            page = self.http.get("items", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            found.update({item["id"]: item for item in body["items"]})
            offset += PAGE
            if offset >= body["total"]:
                assert len(found) == body["total"]
                return found

    def request(self, kind: str, destination: str | None = None) -> int:
        """Ask for an analysis; the id of its (pending) file."""
        answer = self.http.post("analyses", json={"kind": kind, "destination": destination})
        assert answer.status_code == 202, answer.text
        return int(answer.json()["file_id"])

    def workbook(self, file_id: int) -> bytes:
        """The content of a ready file of My files."""
        got = self.http.get(f"files/{file_id}/content")
        assert got.status_code == 200, got.text
        return got.content
