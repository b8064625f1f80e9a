"""Whether the JACK server that our ports live on is still running.

rtmidi cannot tell: when the server dies, its clients go on accepting messages (they go
nowhere) and its port listings go on showing the dead graph. JACK itself tells each of its
clients through a shutdown callback, which rtmidi does not expose, so one watcher per
process holds a small client of its own (JACK-Client, the CFFI binding to libjack): no
ports, never activated, so it costs the server nothing while it runs.

The order of things after a death matters to libjack: the first client opened on a new
server frees whatever clients of the old one are still allocated, so closing one of those
afterwards is a use-after-free (a segfault at exit, measured). So every holder of a JACK
client (each output port) registers here and closes its clients of the dead server
(`released`) before anyone opens a client on the next one: `back()` waits for all of them,
then opens the watcher's client again; `generation` counts the servers seen, so that each
holder knows when to open its own clients anew.

A server that has just started is given a moment (SETTLE_S) before `back()` says so: a port
opened in its first fraction of a second, while another client opened and closed beside it
(the tests' `jack_wait`; in a studio, a patchbay or a DAW reconnecting), was measured to be
left out of the server's cycle: the graph stalled five seconds at a time and nothing reached
any receiver (3 runs of 3 at one timing; none of 8 with the settle).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref

SETTLE_S = 0.5  # how long a new server runs before our ports open on it (see above)
CLOSE_WAIT_S = 2.0  # the longest the exit waits for libjack to close the watch's client

_shared: JackServerWatch | None = None
_shared_lock = threading.Lock()


def shared_watch() -> JackServerWatch | None:
    """The process's watch of the JACK server (JACK_DEFAULT_SERVER, as rtmidi uses), or None
    when JACK-Client or libjack is missing or no server answers: ports then cannot tell a
    dead server, as before this module."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            try:
                _shared = JackServerWatch("Bytes to Beats watch")
            except Exception:  # ImportError, OSError (no libjack), jack.JackOpenError
                return None
            # closed while the interpreter is whole: at finalization libjack's callbacks may be gone
            atexit.register(_shared.close_at_exit)
        return _shared


def current_watch() -> JackServerWatch | None:
    """The process's watch if one is open, without opening one: for a close, which may come
    at exit, after the watch's own client was closed."""
    with _shared_lock:
        return _shared if _shared is not None and not _shared.closed else None


class JackServerWatch:
    def __init__(self, client_name: str):
        import jack

        self._jack = jack
        self._name = client_name
        self._lock = threading.Lock()
        self._down = threading.Event()
        self._holders: weakref.WeakSet = weakref.WeakSet()  # objects with a `released` flag
        self.generation = 0
        self.closed = False
        _quiet_libjack(jack)
        self._client = self._open()

    def _open(self):
        client = self._jack.Client(self._name, no_start_server=True)
        self._found_at = time.monotonic()  # None once the server is gone: this client is of a dead one
        client.set_shutdown_callback(lambda status, reason: self._server_gone())
        return client

    def _server_gone(self) -> None:  # on libjack's thread
        self._found_at = None
        self._down.set()

    def register(self, holder) -> None:
        """`holder.released` must be True once it has closed its clients of a dead server."""
        self._holders.add(holder)

    @property
    def down(self) -> bool:
        """True from the moment the server went away until `back()` finds it again."""
        return self._down.is_set()

    def back(self) -> bool:
        """While down: whether a server runs again, and has for SETTLE_S. Tries only once
        every holder has released its clients of the old one; then watches the new one."""
        if not self._down.is_set():
            return True
        with self._lock:
            if any(not holder.released for holder in list(self._holders)):
                return False
            if self._found_at is None:
                old, self._client = self._client, None
                _close_quietly(old)  # before any client opens on the new server
                try:
                    self._client = self._open()
                except self._jack.JackOpenError:
                    return False
            found_at = self._found_at
            if found_at is None or time.monotonic() - found_at < SETTLE_S:
                return False
            self.generation += 1
            self._down.clear()
        return True

    def port_names(self) -> set[str] | None:
        """Every port's full name on the server, or None while it is down (or will not say)."""
        with self._lock:
            client = self._client
            if client is None or self._down.is_set():
                return None
            try:
                return {port.name for port in client.get_ports()}
            except Exception:  # the server went meanwhile: the shutdown callback says so
                return None

    def disconnect_all(self, port_name: str) -> int:
        """Take every connection of the port `port_name` away (a client need not be active
        to disconnect others' ports); how many there were (0 while the server is down)."""
        with self._lock:
            client = self._client
            if client is None or self._down.is_set():
                return 0
            try:
                port = client.get_port_by_name(port_name)
                others = client.get_all_connections(port)
                for other in others:
                    if port.is_output:
                        client.disconnect(port, other)
                    else:
                        client.disconnect(other, port)
                return len(others)
            except Exception:  # gone already (a receiver that closed, a server that died)
                return 0

    def mark_down(self) -> None:
        """A holder could not open its client on the new server: it went again."""
        self._down.set()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            self.closed = True
        _close_quietly(client)

    def close_at_exit(self) -> None:
        """`close`, waited for at most CLOSE_WAIT_S: after a server died and another started,
        libjack's close of this client was seen to wait forever on a lock of its own (1 exit
        in 6), and an exit must not hang."""
        closer = threading.Thread(target=self.close, daemon=True, name="b2b-jack-watch-close")
        closer.start()
        closer.join(CLOSE_WAIT_S)


_silencers: list = []  # the ctypes callbacks handed to libjack: kept alive for as long as it may call them


def _quiet_libjack(jack) -> None:
    """libjack prints its own complaints to stderr when the server dies ("Cannot read socket
    fd", "CheckRes error", "Server is not running"); the session says "port lost" in one line
    instead. Both copies in the process are told: the system's (JACK-Client's) and the one
    python-rtmidi's wheel carries (python_rtmidi*/libjack-*.so), which its clients use."""
    import ctypes
    import glob
    import os

    import rtmidi

    jack.set_error_function(lambda message: None)
    jack.set_info_function(lambda message: None)
    if _silencers:
        return
    # auditwheel's folder beside the package: "python_rtmidi.libs" (or "python_rtmidi." in 1.5.8)
    vendored = os.path.join(os.path.dirname(os.path.dirname(rtmidi.__file__)), "python_rtmidi*", "libjack-*.so*")
    for path in glob.glob(vendored):
        try:
            lib = ctypes.CDLL(path)
            quiet = ctypes.CFUNCTYPE(None, ctypes.c_char_p)(lambda message: None)
            lib.jack_set_error_function(quiet)
            lib.jack_set_info_function(quiet)
            _silencers.append(quiet)
        except (OSError, AttributeError):  # another build of the wheel: its messages stay
            pass


def _close_quietly(client) -> None:
    if client is None:
        return
    try:
        client.close()
    except Exception:  # a client of a dead server: nothing left to close
        pass
