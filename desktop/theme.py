"""Light or dark, as the system is: the Qt palette and the canvas colors that go with it."""

from __future__ import annotations

from dataclasses import dataclass

from bytes2beats.engine.render import TRACK_COLORS, track_color
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Theme:
    dark: bool
    background: QColor
    lane: QColor
    black_key: QColor
    beat_line: QColor
    bar_line: QColor
    axis: QColor
    text: QColor
    outline: QColor
    playhead: QColor


LIGHT = Theme(False, QColor(236, 236, 238), QColor(252, 252, 252), QColor(238, 240, 244),
              QColor(222, 222, 228), QColor(150, 150, 162), QColor(120, 120, 130), QColor(40, 40, 48),
              QColor(0, 0, 0, 90), QColor(230, 40, 40))
DARK = Theme(True, QColor(30, 31, 34), QColor(43, 45, 49), QColor(37, 38, 42),
             QColor(58, 60, 66), QColor(105, 108, 118), QColor(140, 140, 150), QColor(215, 215, 222),
             QColor(0, 0, 0, 140), QColor(255, 90, 90))


# Past the engine's ten colors (which a 5-track clip uses as they are), seventeen families
# would see Pipe drawn as red as Drums and Synth Lead as blue as Piano: seven more hues,
# none of them the first ten's, for tracks 11-17.
MORE_TRACK_COLORS = (
    (0, 172, 193), (175, 190, 40), (141, 110, 99), (92, 107, 192), (255, 138, 101), (128, 128, 0),
    (216, 27, 96),
)


def track_qcolor(index: int) -> QColor:
    if len(TRACK_COLORS) <= index < len(TRACK_COLORS) + len(MORE_TRACK_COLORS):
        return QColor(*MORE_TRACK_COLORS[index - len(TRACK_COLORS)])
    return QColor(*track_color(index))


def system_is_dark() -> bool:
    """The system's choice where Qt knows it, else the palette's window lightness."""
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def dark_palette() -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, QColor(45, 46, 50)), (roles.WindowText, QColor(225, 225, 230)),
        (roles.Base, QColor(32, 33, 36)), (roles.AlternateBase, QColor(50, 52, 56)),
        (roles.Text, QColor(225, 225, 230)), (roles.Button, QColor(55, 57, 62)),
        (roles.ButtonText, QColor(225, 225, 230)), (roles.Highlight, QColor(52, 132, 219)),
        (roles.HighlightedText, QColor(255, 255, 255)), (roles.ToolTipBase, QColor(55, 57, 62)),
        (roles.ToolTipText, QColor(225, 225, 230)), (roles.PlaceholderText, QColor(140, 140, 150)),
        (roles.Link, QColor(90, 160, 240)),
    ):
        p.setColor(role, color)
    p.setColor(QPalette.ColorGroup.Disabled, roles.ButtonText, QColor(120, 120, 126))
    p.setColor(QPalette.ColorGroup.Disabled, roles.WindowText, QColor(120, 120, 126))
    p.setColor(QPalette.ColorGroup.Disabled, roles.Text, QColor(120, 120, 126))
    return p


def apply_system_theme(app: QApplication, force: str | None = None) -> Theme:
    """Fusion style with the system's light or dark palette; `force` is "light" or "dark"."""
    app.setStyle("Fusion")
    dark = system_is_dark() if force is None else force == "dark"
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    return DARK if dark else LIGHT
