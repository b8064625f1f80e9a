"""Our changes to the JACK graph: one at a time, and a port never unregistered while the
server's notifications of the last change are still going out.

libjack (jack2 1.9.x) keeps each client's ports in a list that two of its threads use
without a lock: `jack_port_unregister` erases from it on the caller's thread, while the
client's notification thread walks it for each latency notification, which the server
sends to every client after every change to the graph (JackClient::HandleLatencyCallback).
An unregister that lands during that walk frees the node under it: a segfault (CI, stop 52:
the second of two ports closed straight after the first). rtmidi unregisters its port in
`close_port` and again in its destructor, and cannot deactivate the client first.

So every rtmidi client or port that we open or close on JACK goes through `changing`: a
process-wide lock keeps two of our threads from changing the graph at once, and each
change is stamped; a close (`close_client`) first waits until SETTLE_S have passed since
our last change. Measured (bench/jack_settle.py, 2 x 40 rounds on a 2-core machine): the
notifications of a port's opening reach other clients up to 6.6 ms after `open_virtual_port`
returns (median 0.9-1.2 ms), those of a closing up to 0.5 ms after `delete`.

Changes made by other programs (a DAW connecting to our port) are not seen here: one of
those landing within a fraction of a millisecond of our close is left to chance, as it is
for every rtmidi program.
"""

from __future__ import annotations

import contextlib
import threading
import time

import rtmidi

SETTLE_S = 0.05  # how long the server is given to notify a change before we unregister a port

_lock = threading.RLock()
_last_change = float("-inf")  # time.monotonic() of our last change to the JACK graph


def _on_jack(midi) -> bool:
    return midi.get_current_api() == rtmidi.API_UNIX_JACK


def _wait_for_quiet() -> None:
    wait = _last_change + SETTLE_S - time.monotonic()
    if wait > 0:
        time.sleep(wait)


@contextlib.contextmanager
def changing():
    """Around anything that opens a client or a port (on any API: which one is known only
    once the client is open): ours one at a time, and the change stamped."""
    global _last_change
    with _lock:
        try:
            yield
        finally:
            _last_change = time.monotonic()


def close_client(midi, keep_client: bool = False) -> None:
    """Close an rtmidi client's port and then the client (or only the port, `keep_client`,
    to open another on it), after the server has had SETTLE_S to notify our last change.
    A client with no port open (a lister, a probe) unregisters nothing, and closes at once."""
    with changing():
        if _on_jack(midi) and midi.is_port_open():
            _wait_for_quiet()
        try:
            midi.close_port()
        finally:
            if not keep_client:
                midi.delete()
