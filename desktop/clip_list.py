"""Recent clips, and A/B between two of them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .clip_document import ClipDocument


class ClipList(QWidget):
    """The document's recent clips, newest first; click one to hear and see it again."""

    def __init__(self, document: ClipDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.list = QListWidget()
        self.list.setToolTip("Recent clips, newest first: click one to bring it back")
        self.list.itemClicked.connect(self._clicked)
        self.set_a = QPushButton("Set A")
        self.set_a.setToolTip("Keep the current clip as A, to compare with B")
        self.set_b = QPushButton("Set B")
        self.set_b.setToolTip("Keep the current clip as B, to compare with A")
        self.toggle = QPushButton("A ⇄ B")
        self.toggle.setToolTip("Switch between clip A and clip B (B)")
        self.set_a.clicked.connect(lambda: document.store_slot("A"))
        self.set_b.clicked.connect(lambda: document.store_slot("B"))
        self.toggle.clicked.connect(document.toggle_ab)
        buttons = QHBoxLayout()
        for button in (self.set_a, self.set_b, self.toggle):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        document.historyChanged.connect(self.refresh)
        document.clipChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        doc = self.document
        self.list.clear()
        for state in doc.recent:
            tags = [slot for slot, held in doc.slots.items() if held is state]
            text = state.title + (f"   [{'/'.join(tags)}]" if tags else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, state.serial)
            item.setToolTip(f"{state.model}, seed {state.seed}, {state.bars} bars, threshold {state.threshold:.3f}")
            if state is doc.state:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)
        self.toggle.setEnabled(doc.slots["A"] is not None and doc.slots["B"] is not None)
        self.set_a.setEnabled(doc.state is not None)
        self.set_b.setEnabled(doc.state is not None)

    def _clicked(self, item: QListWidgetItem) -> None:
        serial = item.data(Qt.ItemDataRole.UserRole)
        for state in self.document.recent:
            if state.serial == serial and state is not self.document.state:
                self.document.show(state)
                return
