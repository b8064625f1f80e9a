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

A port is disconnected before it is unregistered. jack2 mixes the MIDI of every port
connected to an input into one buffer each cycle, and gives up the whole mix when one of
those ports' buffers is no longer valid, as an unregistered port's can be while its
connection is still in the graph ("Jack::MidiBufferMixdown - invalid source buffer"): the
receiver then loses that cycle's events from *every* sender, a user's keyboard playing into
the same DAW input among them. The window is small, and a receiver late in its cycle (a busy
DAW, a loaded machine) is the one that falls into it. Measured (the test
`test_closing_our_port_loses_nothing_another_sender_plays_into_the_same_input`: a receiver in
its own process, sending itself one event a cycle and sleeping 1.2 ms of each 1.33 ms cycle
first, while our ports connected to its input open and close 80 times): 2-3 of its events
lost in each of 3 runs when the ports were closed still connected, none when they were
disconnected first. In a one-off churn of 30 closes each lost event came with that message,
and a prompt receiver lost none either way. So `opening_port` notes the JACK name of each
port we open (JACK may have renamed its client, "name-01") and `close_client` takes the
port's connections away, through the server watch's client (jack_server.py), before it
closes it.
"""

from __future__ import annotations

import contextlib
import threading
import time

import rtmidi

from .jack_server import current_watch, shared_watch

SETTLE_S = 0.05  # how long the server is given to notify a change before we unregister a port

_lock = threading.RLock()
_last_change = float("-inf")  # time.monotonic() of our last change to the JACK graph
# id(rtmidi client): (the client, its open port's JACK name); the client is held so that its id
# cannot pass to another object before close_client takes the entry out
_port_names: dict[int, tuple[object, str]] = {}


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


@contextlib.contextmanager
def opening_port(midi, port_name: str):
    """Around the opening of an rtmidi client's port `port_name` (a change, as `changing`): on
    JACK its full name is noted from the server's ports before and after, so that
    `close_client` can disconnect it. Without a server watch (no JACK-Client) it is not."""
    with changing():
        watch = shared_watch() if _on_jack(midi) else None
        before = watch.port_names() if watch is not None else None
        yield
        after = watch.port_names() if before is not None else None
        if after is not None:
            new = [name for name in after - before if name.endswith(f":{port_name}")]
            if len(new) == 1:  # another program's port of the same name at the same moment: not known
                _port_names[id(midi)] = (midi, new[0])


def close_client(midi, keep_client: bool = False) -> None:
    """Close an rtmidi client's port and then the client (or only the port, `keep_client`,
    to open another on it): the port's connections first taken away, then the port
    unregistered once the server has had SETTLE_S to notify our last change. A client with
    no port open (a lister, a probe) unregisters nothing, and closes at once."""
    global _last_change
    with changing():
        _, port = _port_names.pop(id(midi), (None, None))
        if _on_jack(midi) and midi.is_port_open():
            watch = current_watch() if port is not None else None
            if watch is not None and watch.disconnect_all(port):
                _last_change = time.monotonic()  # a change too: its notifications go out before the unregister
            _wait_for_quiet()
        try:
            midi.close_port()
        finally:
            if not keep_client:
                midi.delete()
