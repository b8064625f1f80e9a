"""Asking the OS to run time-critical threads first.

The clock's thread asks for SCHED_FIFO (granted on Linux to root and to users with an
rtprio limit, as audio setups usually have), else a lower nice value, else runs as it is.
The MIDI systems' own threads (libjack's process thread, which moves our events in and out
of each JACK cycle) are created inside rtmidi, with an explicit ordinary policy when the
JACK server is not realtime: `prioritized_new_threads()` raises them once they exist. A
JACK client that misses its cycle loses that cycle's incoming events (JACK2 runs clients
asynchronously), so this matters on a busy machine. The environment variable
BYTES2BEATS_NO_REALTIME turns all of it off.
"""

from __future__ import annotations

import contextlib
import os
import threading

REALTIME_PRIORITY = 10  # SCHED_FIFO: above ordinary threads, below JACK's own (usually 70+)
NO_REALTIME_ENV = "BYTES2BEATS_NO_REALTIME"  # set (to anything) to leave every priority alone


def _wanted() -> bool:
    return not os.environ.get(NO_REALTIME_ENV)


def raise_priority() -> str:
    """Raise the calling thread's priority as far as allowed; what was granted, in words."""
    if not _wanted():
        return f"normal ({NO_REALTIME_ENV} is set)"
    tid = threading.get_native_id()
    if hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
            return f"SCHED_FIFO {REALTIME_PRIORITY}"
        except OSError:
            pass
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, -10)
            return "nice -10"
        except OSError:
            pass
    return "normal"


def _thread_ids() -> set[int]:
    try:
        return {int(tid) for tid in os.listdir("/proc/self/task")}
    except OSError:  # not Linux
        return set()


@contextlib.contextmanager
def prioritized_new_threads():
    """Threads started inside this block (the MIDI system's, made inside rtmidi) get a
    raised priority, where the OS allows; Linux only, elsewhere nothing changes."""
    before = _thread_ids() if _wanted() else None
    yield
    if before is None:
        return
    for tid in _thread_ids() - before:
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        except (AttributeError, OSError):
            try:
                os.setpriority(os.PRIO_PROCESS, tid, -10)
            except (AttributeError, OSError):
                pass


def leave_a_core_for_the_daw() -> int:
    """Generate on all cores but one, so that a live stream never takes every core from the
    DAW and the audio beside it (torch's threads would otherwise fill them all, on every
    phrase). Returns the threads left to torch; BYTES2BEATS_NO_REALTIME leaves them all."""
    import torch

    if _wanted():
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
    return torch.get_num_threads()

