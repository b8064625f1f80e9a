"""The Playback menu: Play, Preview, and where and how clips are sent (port, MIDI API, sync).

The choices go to the LivePlayer and into the settings; they take effect at the next Play.
"""

from __future__ import annotations

from bytes2beats.engine.limits import MIDI_APIS
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from .live_player import SYNC_MODES, LivePlayer


class PlaybackMenu(QMenu):
    def __init__(self, player: LivePlayer, settings: QSettings, actions: list[QAction], parent: QWidget):
        super().__init__("&Playback", parent)
        self.player = player
        self.settings = settings
        self.setToolTipsVisible(True)
        self.addActions(actions)
        self.addSeparator()
        self.port_menu = self.addMenu("Send to")
        self.port_menu.setToolTip("A virtual port your DAW connects to, or another program's input")
        self.port_menu.aboutToShow.connect(self.fill_port_menu)
        self._choices(self.addMenu("MIDI API"), {api: api for api in MIDI_APIS}, "midi/api", "auto",
                      lambda value: setattr(player, "api", value))
        self._choices(self.addMenu("Sync"), SYNC_MODES, "midi/sync", "internal",
                      lambda value: setattr(player, "sync_mode", value))

    def _choices(self, menu: QMenu, choices: dict[str, str], key: str, default: str, apply) -> None:
        current = str(self.settings.value(key, default))
        if current not in choices:
            current = default
        apply(current)
        group = QActionGroup(menu)
        for value, text in choices.items():
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(value == current)
            action.setToolTip("Takes effect at the next Play")
            action.triggered.connect(lambda _=False, v=value: (apply(v), self.settings.setValue(key, v)))
            group.addAction(action)

    def fill_port_menu(self) -> None:
        """The virtual port, and the inputs the chosen MIDI API sees now (asked when opened)."""
        from bytes2beats.engine.live import VIRTUAL_PORT_NAME, PortError, api_order, list_ports

        menu = self.port_menu
        menu.clear()
        group = QActionGroup(menu)
        choices: list[tuple[str, str | None]] = [(f"Virtual port “{VIRTUAL_PORT_NAME}”", None)]
        try:
            apis = api_order(self.player.api)
            choices += [(f"{port} ({found.api})", port) for found in list_ports() if found.api in apis
                        for port in found.outputs if not port.startswith(VIRTUAL_PORT_NAME)]
        except PortError as error:
            menu.addAction(str(error)).setEnabled(False)
        for text, port in choices:
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(port == self.player.connect_to)
            action.triggered.connect(lambda _=False, p=port: setattr(self.player, "connect_to", p))
            group.addAction(action)
