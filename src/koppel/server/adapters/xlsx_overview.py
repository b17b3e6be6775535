"""The dossier overview as an .xlsx workbook (openpyxl)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

HEADERS = (
    "Item",
    "Created (UTC)",
    "Subject",
    "Type",
    "Destination",
    "Destination name",
    "Author",
    "Attachments",
    "Total size (bytes)",
)


def render(rows: Iterable[Any]) -> bytes:
    """One sheet "Overview": a header row, then one row per item (``OverviewRow``)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Overview")
    sheet.append(list(HEADERS))
    for row in rows:
        created = row.created.replace(tzinfo=None) if row.created.tzinfo else row.created
        sheet.append(
            [
                row.item_id,
                created,  # Excel has no time zones; the header says UTC
                row.subject,
                row.type,
                row.destination_code,
                row.destination_name,
                row.author,
                row.attachment_count,
                row.total_size,
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
