"""`bytes2beats stream` and `bytes2beats ports`: live MIDI to a DAW.

The engine's `live` package does the work; this module turns flags into a LiveSession,
prints its events one line each, and makes Ctrl-C (and SIGTERM) a clean stop: note-offs,
then CC123 and CC120 on every channel used.
"""

from __future__ import annotations

import argparse

from bytes2beats.cli_options import (
    add_chord_options,
    add_model_options,
    add_takes_option,
    add_timing_options,
    check_in,
    chord_model_default,
    chord_request,
    feel_amount,
    quantize_strength,
    takes_for,
)
from bytes2beats.engine.limits import BPM, DEFAULT_BPM, MIDI_APIS, SEED, THRESHOLD
from bytes2beats.errors import UserError, error_line

DEFAULT_BARS = 8


def add_live_commands(sub) -> None:
    """Register the live commands; each sets `handler` to its function."""
    s = sub.add_parser(
        "stream", help="play generated bars into your DAW over a MIDI port, in time",
        description="Stream generated music to a MIDI port: a virtual port named 'Bytes to Beats' "
                    "(or one per track), or an existing port (--connect). Seventeen families need "
                    "two ports: the second is 'Bytes to Beats 2' (or a second --connect). "
                    "Ctrl-C stops cleanly.",
    )
    add_model_options(s)
    s.add_argument("--clip", help="loop this MIDI file instead of generating")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--bpm", type=float, default=DEFAULT_BPM,
                   help=f"tempo of the internal clock, {BPM.describe()} (default {DEFAULT_BPM:g})")
    length = s.add_mutually_exclusive_group()
    length.add_argument("--bars", type=int, default=DEFAULT_BARS, help=f"bars to play (default {DEFAULT_BARS})")
    length.add_argument("--forever", action="store_true", help="play until Ctrl-C")
    s.add_argument("--port-name", default=None, help="name of the virtual output (default 'Bytes to Beats')")
    s.add_argument("--per-track-ports", action="store_true", help="one virtual output per track")
    s.add_argument("--connect", metavar="PORT", action="append",
                   help="send to this existing input port (see `bytes2beats ports`); give it twice for a "
                        "model of 17 families, whose last track needs a second port (else a virtual one)")
    s.add_argument("--api", choices=MIDI_APIS, default="auto", help="MIDI system (default: auto)")
    s.add_argument("--mute", nargs="+", action="extend", default=[], metavar="TRACK", help="tracks to mute")
    s.add_argument("--solo", nargs="+", action="extend", default=[], metavar="TRACK", help="tracks to solo")
    s.add_argument("--sync", choices=("internal", "external"), default="internal",
                   help="external: follow MIDI clock, Start, Stop, Continue and Song Position from the DAW")
    s.add_argument("--sync-port", metavar="PORT",
                   help="with --sync external: follow this output port (default: a virtual input "
                        "'<port name> sync')")
    s.add_argument("--clock-out", action="store_true", help="send MIDI clock with Start and Stop")
    s.add_argument("--variation", type=float, default=0.3,
                   help="0: loop the same phrase; small: a latent walk; 1: fresh each phrase (default 0.3)")
    s.add_argument("--threshold", type=float, default=None, help="note probability that makes a note, 0-1")
    add_timing_options(s)
    add_takes_option(s)
    add_chord_options(s)
    s.add_argument("--listen", metavar="PORT",
                   help="jam: read your looped part from this MIDI output port (your DAW's track or a "
                        "keyboard; 'virtual' opens an input '<port name> jam' to connect to) and play the "
                        "other tracks along with it from its second pass")
    s.add_argument("--loop-bars", type=int, choices=(2, 4, 8), default=4, help="with --listen: your loop's length")
    s.add_argument("--as", dest="as_track", default="auto", type=str.lower,
                   choices=("auto", "drums", "piano", "guitar", "bass", "strings"),
                   help="with --listen: the track your part is (auto: drums on channel 10, a bass by its register, "
                        "else piano)")
    s.add_argument("--no-program-changes", action="store_true", help="leave the DAW's instruments alone")
    s.add_argument("--quiet", action="store_true", help="print only problems")
    s.set_defaults(handler=cmd_stream)

    p = sub.add_parser("ports", help="list the MIDI systems and the ports they see")
    p.set_defaults(handler=cmd_ports)


def _check(args: argparse.Namespace) -> None:
    check_in("--bpm", args.bpm, BPM)
    check_in("--seed", args.seed, SEED)
    if not args.forever and args.bars < 1:
        raise UserError("--bars must be 1 or more")
    if not 0.0 <= args.variation <= 1.0:
        raise UserError("--variation must be between 0 and 1")
    check_in("--threshold", args.threshold, THRESHOLD)
    quantize_strength(args), feel_amount(args)  # checked before any port opens
    if args.clock_out and args.sync == "external":
        raise UserError("--clock-out sends our clock; it cannot go with --sync external")
    if args.sync_port and args.sync != "external":
        raise UserError("--sync-port needs --sync external")
    if args.per_track_ports and args.connect:
        raise UserError("--per-track-ports makes virtual ports; it cannot go with --connect")
    if args.listen and (args.clip or args.chords is not None or args.chords_from or args.key):
        raise UserError("--listen plays along with your part, to its own chords: leave out --clip and the chord options")


def _source(args: argparse.Namespace):
    from bytes2beats.engine.live import ClipLoop, ModelStream

    if args.listen:
        return _jam_source(args)
    if args.clip:
        from bytes2beats.engine.music_io import MusicFileError, read_music

        try:
            return ClipLoop(read_music(args.clip))
        except (MusicFileError, ValueError) as error:
            raise UserError(str(error)) from None
    from bytes2beats.engine.generate import Composer
    from bytes2beats.engine.model import ModelFileError

    chord_model_default(args)
    try:
        composer = Composer.load(args.model, args.device)
        return ModelStream(composer, args.seed, args.genre, args.variation, args.threshold,
                           quantize_strength=quantize_strength(args), chords=chord_request(args, composer, args.seed),
                           feel=feel_amount(args), takes=takes_for(composer, args.takes, args.genre))
    except (FileNotFoundError, ModelFileError, ValueError) as error:
        raise UserError(str(error)) from None


def _model_line(source) -> str:
    """Which model makes the bars and where it runs (the GPU where there is one), for the
    stream's first line; nothing for a clip played as it is."""
    composer = getattr(source, "composer", None)
    if composer is None:
        return ""
    from bytes2beats.engine.device import describe_device

    return f"; {composer.name} on {describe_device(composer.device)}"


def _jam_source(args: argparse.Namespace):
    from bytes2beats.engine.generate import Composer
    from bytes2beats.engine.live.jam import JamSource
    from bytes2beats.engine.model import ModelFileError
    from bytes2beats.engine.model_store import DEFAULT_CHORD_MODEL

    try:
        composer = Composer.load(args.model or DEFAULT_CHORD_MODEL, args.device)  # it plays to your chords
        names = [t.name.lower() for t in composer.config.tracks]
        track = None if args.as_track == "auto" else names.index(args.as_track)
        return JamSource(composer, args.loop_bars, args.seed, args.genre, track, args.threshold,
                         feel=feel_amount(args))
    except (FileNotFoundError, ModelFileError, ValueError) as error:
        raise UserError(str(error)) from None


def _open_listen(args, api: str, port_name: str):
    """The jam's MIDI input: connected to --listen's port, or a virtual one ('virtual')."""
    from bytes2beats.engine.live import StampedInput

    connect = None if args.listen == "virtual" else args.listen
    return StampedInput(api, f"{port_name} jam", connect=connect, on_sender=_say_sender)


def _say_sender(kind: str, port: str) -> None:
    """A sender (--listen, --sync-port) that went, or came back and is connected again."""
    said = "waiting for it to come back" if kind == "input lost" else "connected again"
    print(f"{kind}: {port} ({said})", flush=True)


def cmd_stream(args: argparse.Namespace) -> int:
    import signal
    import sys
    import threading

    from bytes2beats.engine.live import (
        VIRTUAL_PORT_NAME,
        LiveSession,
        PortError,
        SyncInput,
        open_outputs,
    )

    _check(args)
    from bytes2beats.engine.live.priority import leave_a_core_for_the_daw

    leave_a_core_for_the_daw()
    source = _source(args)
    port_name = args.port_name or VIRTUAL_PORT_NAME
    ports = sync = listen = None
    try:
        ports = open_outputs(source.tracks, args.api, port_name, args.connect, args.per_track_ports)
        if args.sync == "external":  # on the API the output found
            sync = SyncInput(getattr(ports.main, "api", args.api), f"{port_name} sync", args.sync_port,
                             on_sender=_say_sender)
        if args.listen:
            listen = _open_listen(args, getattr(ports.main, "api", args.api), port_name)
    except PortError as error:
        for opened in (ports, sync):
            if opened is not None:
                opened.close()
        raise UserError(str(error)) from None
    jam = None
    if listen is not None:
        from bytes2beats.engine.live.jam import Jam

        jam = Jam(source)

    delivery = _Delivery()

    def say(event) -> None:
        delivery.note(event)
        if jam is not None and event.kind == "bar":
            jam.on_bar(event.bar)  # the loop heard so far: a new one plays from the next bar
        if args.quiet and event.kind not in ("error", "late", "change", "port lost", "port back"):
            return
        beat = f" beat {event.beat + 1}" if event.beat else ""
        where = {"bar": f" {event.bar}", "change": f" from bar {event.bar}{beat}"}.get(event.kind, "")
        detail = f": {event.detail}" if event.detail else ""
        print(f"{event.kind}{where}{detail}", flush=True)

    session = LiveSession(source, ports, bpm=args.bpm, bars=None if args.forever else args.bars,
                          sync=sync, clock_out=args.clock_out,
                          program_changes=not args.no_program_changes, on_event=say)
    try:
        for track in args.mute:
            session.mute(track)
        for track in args.solo:
            session.solo(track)
    except KeyError as error:
        session.close()
        if listen is not None:
            listen.close()
        raise UserError(error.args[0]) from None
    if jam is not None:
        jam.attach(session, listen)

    def interrupt(signum, frame):  # SIGTERM and SIGHUP end like Ctrl-C: through the finally below
        raise _Signalled(signum)

    if threading.current_thread() is threading.main_thread():
        # SIGHUP: the terminal closed; without a handler the process would die with notes on
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), interrupt)
    api = getattr(ports.main, "api", args.api)
    target = ", ".join(p.name for p in ports.ports)
    if not args.quiet:
        length = "until Ctrl-C" if args.forever else f"{args.bars} bars"
        clock = f"following the clock on '{sync.name}'" if sync else f"{args.bpm:g} BPM"
        print(f"streaming to {target} ({api}), {clock}, {length}{_model_line(source)}", file=sys.stderr, flush=True)
    if not args.per_track_ports:
        for line in _port_lines(ports, session.tracks, args.connect or [], args.quiet):
            print(line, file=sys.stderr, flush=True)
    takes_chords = getattr(getattr(source, "composer", None), "takes_chords", False) and not args.listen
    if takes_chords and not args.quiet:
        print("type a progression (as --chords takes it) and Enter to play it from the next bar",
              file=sys.stderr, flush=True)
    if listen is not None and not args.quiet:
        print(f"listening on {listen.name} for your {args.loop_bars}-bar loop ({args.as_track}): "
              f"the other tracks play from its second pass", file=sys.stderr, flush=True)
    try:
        return _play(session, takes_chords, args, delivery)
    except _Signalled as stop:
        try:
            print(error_line("stream", f"stopped by {signal.Signals(stop.signum).name}"), file=sys.stderr, flush=True)
        except OSError:  # the terminal that hung up
            pass
        return 128 + stop.signum
    finally:
        if listen is not None:
            listen.close()


def _port_lines(ports, tracks, connects: list[str], quiet: bool) -> list[str]:
    """What plays where, when the tracks fill more than one port (past fifteen pitched
    tracks): a line per port, so that a DAW user routes each input's channels to the right
    instruments; and for a port nobody connected (one --connect for two ports), what to do
    about it, said even with --quiet, since those tracks are heard nowhere until then."""
    if len(ports.ports) < 2:
        return []
    lines = []
    for k, (port, placed) in enumerate(ports.layout(tracks)):
        heard = ", ".join(f"{track.name} ch {channel + 1}" for track, channel in placed)
        if not quiet:
            lines.append(f"  port {k + 1} '{port.name}': {heard}")
        if connects and k >= len(connects):
            what = ", ".join(f"{track.name} plays on channel {channel + 1}" for track, channel in placed)
            lines.append(f"{what} of the virtual port '{port.name}': connect it in your DAW")
    return lines


class _Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that the stream closes as on Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _play(session, takes_chords: bool, args, delivery) -> int:
    """Start the session, wait for its end, close it whatever happens (every note ends)."""
    import sys
    import threading

    try:
        session.start()
        if args.sync == "external" and not args.quiet:  # now, not before: a Start sent earlier is not heard
            print("ready: waiting for the DAW's Start", file=sys.stderr, flush=True)
        if takes_chords:
            threading.Thread(target=_read_progressions, args=(session, args.key), daemon=True,
                             name="b2b-stream-chords").start()
        session.wait()
    finally:
        session.close()
    if session.failure is not None:
        raise UserError(f"streaming stopped: {session.failure}")
    if delivery.gaps:
        raise UserError(f"not all of the stream reached its receiver: {delivery.describe()}")
    return 0


class _Delivery:
    """Which bars went out while a port was lost (its receiver or its MIDI server gone)."""

    def __init__(self):
        self.bar = 0  # the bar playing
        self.lost: dict[str, int] = {}  # port -> the bar it was lost in
        self.gaps: list[tuple[str, int, int | None]] = []  # (port, from bar, back in bar or None)

    def note(self, event) -> None:
        if event.kind == "bar":
            self.bar = event.bar
        elif event.kind == "port lost":
            self.lost.setdefault(event.detail, self.bar)
        elif event.kind == "port back" and event.detail in self.lost:
            self.gaps.append((event.detail, self.lost.pop(event.detail), self.bar))
        elif event.kind == "stopped":
            self.gaps += [(port, bar, None) for port, bar in self.lost.items()]
            self.lost.clear()

    def describe(self) -> str:
        return "; ".join(f"'{port}' lost in bar {start}" + (f", back in bar {end}" if end is not None else ", never back")
                         for port, start, end in self.gaps)


def _read_progressions(session, key_name: str | None) -> None:
    """Each line typed while streaming is a new progression (in --key's key, so that Roman
    numerals work), played from the next bar; a bad line is one message, and the stream
    plays on. Ends at the end of input."""
    import sys

    from bytes2beats.engine import progression

    key = progression.parse_key(key_name) if key_name else None  # checked before streaming began
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            bars = progression.parse_progression(line, key)
        except progression.ChordError as error:
            print(f"chords not changed: {error}", file=sys.stderr, flush=True)
            continue
        session.set_chords(progression.per_beat(bars, len(bars)), f"chords {progression.describe(bars)}")


def cmd_ports(args: argparse.Namespace) -> int:
    from bytes2beats.engine.live import api_order, list_ports

    auto = api_order("auto")
    for entry in list_ports():
        mark = " (tried first by auto)" if auto and entry.api == auto[0] else ""
        if entry.error:
            print(f"{entry.api}: not available: {entry.error}")
            continue
        print(f"{entry.api}{mark}:")
        print("  inputs to send to (--connect):")
        for name in entry.outputs or ["(none)"]:
            print(f"    {name}")
        print("  outputs to follow (--sync-port):")
        for name in entry.inputs or ["(none)"]:
            print(f"    {name}")
    return 0
