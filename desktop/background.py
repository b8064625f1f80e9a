"""Slow work on a pool thread, told back by signals: the desktop's one background-job wrapper.

`BackgroundCall(work)` runs `work(call)` on Qt's global thread pool, or on the `pool` given
(the model worker's pool of one thread, so that its jobs keep their order and the model is
never used by two threads at once). The work reports with `call.report(value)` and may look
at `call.cancelled`. Qt delivers `progress`, `done` and `failed` on the GUI thread. Every
failure becomes a one-line message (`describe`), never an exception in the GUI; its traceback
is printed unless it is one the user can cause and fix (`expected`) and BYTES2BEATS_DEBUG is
unset. The call is not a child of any widget: a page that goes away (the wizard closed
mid-scan) leaves it to finish quietly, its signals unheard.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

from bytes2beats.engine.failures import one_line
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class Cancelled(Exception):
    """Raised inside the work (from `report`) once the call is cancelled."""


class BackgroundCall(QObject):
    progress = Signal(object)
    done = Signal(object)
    failed = Signal(str)  # one line for the user

    def __init__(self, work: Callable[[BackgroundCall], Any], pool: QThreadPool | None = None,
                 describe: Callable[[Exception], str] | None = None,
                 expected: Callable[[Exception], bool] | None = None):
        """`describe`: the message for a failure (by default its first line); `expected`:
        the failures told without a traceback (by default none)."""
        super().__init__()
        self.work = work
        self.pool = pool
        self.describe = describe
        self.expected = expected
        self.cancelled = False
        self._runnable: QRunnable | None = None

    def start(self) -> BackgroundCall:
        self._runnable = _Runnable(self)
        (QThreadPool.globalInstance() if self.pool is None else self.pool).start(self._runnable)
        return self

    def cancel(self) -> None:
        """Ask the work to stop at its next report; nothing more is delivered."""
        self.cancelled = True

    def report(self, value: Any) -> None:
        if self.cancelled:
            raise Cancelled
        self.progress.emit(value)

    def message(self, error: Exception) -> str:
        return (self.describe or one_line)(error)


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
            if os.environ.get("BYTES2BEATS_DEBUG") or call.expected is None or not call.expected(error):
                traceback.print_exc()
            if not call.cancelled:
                call.failed.emit(call.message(error))
            return
        if not call.cancelled:
            call.done.emit(result)
