"""One piece of the wizard's slow work (a scan, an evaluation) on a pool thread.

`BackgroundCall(work)` runs `work(call)` on Qt's global thread pool; the work reports with
`call.report(value)` and may look at `call.cancelled`. Qt delivers `progress`, `done` and
`failed` on the GUI thread. The call is not a child of any widget: a page that goes away
(the wizard closed mid-scan) leaves it to finish quietly, its signals unheard.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class Cancelled(Exception):
    """Raised inside the work (from `report`) once the call is cancelled."""


class BackgroundCall(QObject):
    progress = Signal(object)
    done = Signal(object)
    failed = Signal(str)  # one line for the user

    def __init__(self, work: Callable[[BackgroundCall], Any]):
        super().__init__()
        self.work = work
        self.cancelled = False
        self._runnable: QRunnable | None = None

    def start(self) -> BackgroundCall:
        self._runnable = _Runnable(self)
        QThreadPool.globalInstance().start(self._runnable)
        return self

    def cancel(self) -> None:
        """Ask the work to stop at its next report; nothing more is delivered."""
        self.cancelled = True

    def report(self, value: Any) -> None:
        if self.cancelled:
            raise Cancelled
        self.progress.emit(value)


class _Runnable(QRunnable):
    def __init__(self, call: BackgroundCall):
        super().__init__()
        self.call = call  # holds the call (and its signals) alive until the work ends
        self.setAutoDelete(True)

    def run(self) -> None:
        call = self.call
        try:
            result = call.work(call)
        except Cancelled:
            return
        except Exception as error:  # every failure becomes a message, never a crash
            traceback.print_exc()
            if not call.cancelled:
                call.failed.emit(one_line(error))
            return
        if not call.cancelled:
            call.done.emit(result)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
