"""The wizard's slow work (a scan, an evaluation) on a pool thread, and its one-line messages.

`BackgroundCall` and `Cancelled` live in `background.py` (the desktop's one background-job
wrapper, shared with the model worker) and are re-exported here for the wizard's pages.
"""

from __future__ import annotations

from .background import BackgroundCall, Cancelled

__all__ = ["BackgroundCall", "Cancelled", "one_line"]


from bytes2beats.engine.failures import one_line  # noqa: E402 - the engine's one way to say an error in a line
