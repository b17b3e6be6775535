"""The dossier overview as an .xlsx workbook (openpyxl), in the language and time zone of
whoever asked for it (the worker renders it under them: ``use_language``)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from koppel.i18n import N_, current_time_zone, local_time
from koppel.i18n import gettext as _

HEADERS = (
    N_("Item"),
    N_("Created ({time_zone})"),
    N_("Subject"),
    N_("Type"),
    N_("Destination"),
    N_("Destination name"),
    N_("Author"),
    N_("Attachments"),
    N_("Total size (bytes)"),
)


def render(rows: Iterable[Any]) -> bytes:
    """One sheet ("Overview"), a header row, then one row per item (``OverviewRow``)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Overview"))
    zone = current_time_zone()
    sheet.append([_(header).format(time_zone=zone) for header in HEADERS])
    for row in rows:
        created = local_time(row.created, zone).replace(tzinfo=None)
        sheet.append(
            [
                row.item_id,
                created,  # Excel has no time zones; the header names the zone
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
