"""The tray icon, drawn here (no artwork to license): two linked rings on a blue tile,
with a coloured dot for the overall state."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from koppel.agent.desktop.tray_model import CONNECTED, OFFLINE, UNKNOWN

_TILE = QColor("#1f5fa8")
_BADGE = {
    CONNECTED: QColor("#2e9d4f"),
    OFFLINE: QColor("#8a8f98"),
    UNKNOWN: QColor("#8a8f98"),
}
_ATTENTION = QColor("#d9822b")  # every state that needs the user


def pixmap(state: str | None = None, size: int = 64) -> QPixmap:
    """The icon at ``size`` pixels; with a badge for ``state`` when given."""
    image = QPixmap(size, size)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = size / 64
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_TILE)
    painter.drawRoundedRect(QRectF(2 * unit, 2 * unit, 60 * unit, 60 * unit), 12 * unit, 12 * unit)
    ring = QPen(QColor("white"), 6 * unit)
    painter.setPen(ring)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(QRectF(10 * unit, 20 * unit, 26 * unit, 24 * unit))
    painter.drawEllipse(QRectF(28 * unit, 20 * unit, 26 * unit, 24 * unit))
    if state is not None:
        painter.setPen(QPen(QColor("white"), 3 * unit))
        painter.setBrush(_BADGE.get(state, _ATTENTION))
        painter.drawEllipse(QRectF(40 * unit, 40 * unit, 22 * unit, 22 * unit))
    painter.end()
    return image


def icon(state: str | None = None) -> QIcon:
    """The icon in the sizes trays and title bars ask for."""
    made = QIcon()
    for size in (16, 24, 32, 48, 64, 128):
        made.addPixmap(pixmap(state, size))
    return made
