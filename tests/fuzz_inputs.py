"""Hostile files for the fuzzing suite (tests/test_fuzz_files.py) and its longer run
(bench/fuzz_files.py): hypothesis strategies for MIDI files, LPD songs, phrase packs and
model files that are cut short, garbled, of odd types and shapes, or that claim far more
than they hold, and zip bombs that really inflate. Each is made from a real file of
tests/fixtures or from the format's own structure, so that it gets past the first checks.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FIXTURES = Path(__file__).parent / "fixtures"
LPD_SONG = sorted((FIXTURES / "lpd" / "rock").glob("*.npz"))[0]
MODEL_DTYPES = ["F32", "F16", "BF16", "I64", "U8", "BOOL", "F64", "XYZ"]


# ---------------------------------------------------------------------------------------
# Bytes in general


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """`data` as it is, cut short, with a few bytes changed, or with a run of bytes doubled."""
    how = draw(st.sampled_from(["as is"] * 4 + ["cut", "changed", "doubled"]))
    if not data or how == "as is":
        return data
    if how == "cut":
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "changed":
        changed = bytearray(data)
        for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            changed[at] = draw(st.integers(0, 255))
        return bytes(changed)
    start = draw(st.integers(0, len(data) - 1))
    end = draw(st.integers(start, min(len(data), start + 64)))
    return data[:end] + data[start:end] * draw(st.integers(1, 50)) + data[end:]


# JSON values of every kind, nested a little: what a hostile file's text fields hold.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


# ---------------------------------------------------------------------------------------
# MIDI


def vlq(n: int) -> bytes:
    """A MIDI variable-length number."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def smf(tracks: list[bytes], midi_format: int = 1, division: int = 480, n_tracks: int | None = None) -> bytes:
    """A Standard MIDI File of these tracks' event bytes; `n_tracks` what its header claims."""
    claimed = len(tracks) if n_tracks is None else n_tracks
    data = b"MThd" + struct.pack(">Ihhh", 6, midi_format, claimed, division)
    return data + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


# Data bytes: mostly in range, now and then not (a file that is otherwise fine is the test).
DATA_BYTE = st.sampled_from(["ok"] * 30 + ["high"]).flatmap(
    lambda kind: st.integers(0, 127) if kind == "ok" else st.integers(128, 255))


@st.composite
def midi_event(draw) -> bytes:
    """One event with its delta time: notes, programs, controllers, meta events whose
    lengths may lie, sysex, running status, or a stray byte."""
    delta = draw(st.sampled_from([0, 0, 1, 24, 120, 480, 960, None]))
    if delta is None:
        delta = draw(st.integers(0, 0x0FFFFFFF))
    kind = draw(st.sampled_from(["note"] * 12 + ["off"] * 6 + ["program", "control", "tempo", "meter", "name",
                                                               "marker", "other meta", "sysex", "running", "stray"]))
    channel = draw(st.integers(0, 15))
    if kind in ("note", "off", "control"):
        status = {"note": 0x90, "off": 0x80, "control": 0xB0}[kind] | channel
        body = bytes([status, draw(DATA_BYTE), draw(DATA_BYTE)])
    elif kind == "program":
        body = bytes([0xC0 | channel, draw(DATA_BYTE)])
    elif kind in ("tempo", "meter", "name", "marker", "other meta"):
        meta_type = {"tempo": 0x51, "meter": 0x58, "name": 0x03, "marker": 0x06}.get(kind) or draw(st.integers(0, 255))
        payload = {"tempo": b"\x07\xa1\x20", "meter": b"\x04\x02\x18\x08"}.get(kind) if draw(st.booleans()) else None
        payload = payload if payload is not None else draw(st.binary(max_size=8))
        length = len(payload) if draw(st.integers(0, 5)) else draw(st.integers(0, 2**21))
        body = bytes([0xFF, meta_type]) + vlq(length) + payload
    elif kind == "sysex":
        payload = draw(st.binary(max_size=8))
        body = bytes([draw(st.sampled_from([0xF0, 0xF7]))]) + vlq(draw(st.just(len(payload)) | st.integers(0, 2**21))) + payload
    elif kind == "running":
        body = bytes([draw(st.integers(0, 127)), draw(st.integers(0, 127))])
    else:
        body = bytes([draw(st.integers(0, 255))])
    return vlq(delta) + body


@st.composite
def midi_files(draw) -> bytes:
    """A MIDI file of random events, with a header that may lie about its format, tracks and
    ticks per beat, then perhaps cut short or garbled."""
    tracks = draw(st.lists(st.lists(midi_event(), max_size=30).map(b"".join), max_size=4))
    midi_format = draw(st.sampled_from([0, 1, 1, 1, 2, None]))
    division = draw(st.sampled_from([480, 96, 1, 960, None]))
    claimed = draw(st.sampled_from([None] * 5 + [0]))
    header_lies = [draw(st.integers(-(2**15), 2**15 - 1)) for _ in range(3)]
    return draw(mutated(smf(tracks, header_lies[0] if midi_format is None else midi_format,
                            header_lies[1] if division is None else division,
                            header_lies[2] if claimed == 0 else claimed)))


def note(delta: int, channel: int, pitch: int, on: bool = True) -> bytes:
    return vlq(delta) + bytes([(0x90 if on else 0x80) | channel, pitch, 100 if on else 0])


def many_instruments(n: int) -> bytes:
    """A small file of `n` tracks of one note each, every one an instrument of its own."""
    return smf([note(0, k % 16, 60) + note(96, k % 16, 60, on=False) for k in range(n)], division=96)


def long_song(beats: int, instruments: int = 1) -> bytes:
    """Notes at the start and one `beats` beats later, on `instruments` channels."""
    track = b"".join(note(0, c, 60) for c in range(instruments))
    track += note(beats * 96, 0, 62) + note(96, 0, 62, on=False)
    return smf([track], division=96)


def program_changes(n_events: int) -> bytes:
    """`n_events` events, mostly program changes, a few notes between: what an 11 MB file
    of program changes holds (each program a new instrument until the limit)."""
    cycle = b"".join(  # every program on every channel: 2,048 instruments, then again
        b"\x00" + bytes([0xC0 | k % 16, k // 16]) + note(0, k % 16, 60) + note(1, k % 16, 60, on=False)
        for k in range(16 * 128))
    repeats, rest = divmod(n_events // 3, 16 * 128)
    return smf([cycle * repeats + cycle[: rest * len(cycle) // (16 * 128)]])


def controller_events(n_events: int) -> bytes:
    """One note and then `n_events` controller changes: events that are not notes."""
    return smf([note(0, 0, 60) + b"\x00\xb0\x07\x64" + b"\x00\x07\x64" * n_events])


@st.composite
def absurd_midi(draw) -> bytes:
    """A well-formed file that claims more than a song: instruments, length, or both."""
    what = draw(st.sampled_from(["instruments", "length", "both"]))
    if what == "instruments":
        return many_instruments(draw(st.integers(200, 3000)))
    if what == "length":
        return long_song(draw(st.integers(4000, 2**28 // 96)))
    return long_song(draw(st.integers(500, 20000)), draw(st.integers(2, 16)))


# ---------------------------------------------------------------------------------------
# NumPy archives


def npz_bytes(members: dict[str, np.ndarray | bytes]) -> bytes:
    """A `.npz` of these arrays (bytes: written as they are, as LPD's info.json is)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            if isinstance(value, bytes):
                archive.writestr(name, value)
            else:
                with archive.open(f"{name}.npy", "w") as handle:
                    np.lib.format.write_array(handle, np.asanyarray(value), allow_pickle=False)
    return buffer.getvalue()


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    """The bytes a .npy file starts with: it claims `shape` of `dtype`, whatever follows."""
    handle = io.BytesIO()
    np.lib.format.write_array_header_2_0(handle, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                  "shape": shape})
    return handle.getvalue()


def garbled_npy_header(text: str) -> bytes:
    """A .npy file's magic string and version, then `text` where its header's dict should be."""
    encoded = text.encode("latin-1", "replace")
    return np.lib.format.MAGIC_PREFIX + b"\x01\x00" + struct.pack("<H", len(encoded)) + encoded


def read_npz_members(path: Path) -> dict[str, np.ndarray | bytes]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    with np.load(path) as data:
        return {name.removesuffix(".npy"): data[name.removesuffix(".npy")] for name in names}


ODD_ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.int32, np.int64, np.float32, np.float64, np.bool_, np.complex64, "<U3"]),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=40),
)


@st.composite
def odd_array(draw) -> np.ndarray:
    """An array of another type or shape, or of absurd values (NaN, huge, negative)."""
    kind = draw(st.sampled_from(["odd", "absurd", "claims"]))
    if kind == "odd":
        return draw(ODD_ARRAYS)
    if kind == "absurd":
        values = st.sampled_from([np.nan, np.inf, -1.0, 1e300, 2.0**31, 2.0**63, -(2.0**63), 0.0])
        return np.array(draw(st.lists(values, min_size=1, max_size=130)))
    return None  # the caller writes a header that claims more than the entry holds


def with_changes(draw, members: dict, text_members: dict[str, dict]) -> bytes:
    """The members changed (1-3 of: an array replaced, one taken out, one that claims a
    trillion elements, a JSON field given another value, the JSON made nonsense), zipped,
    then perhaps cut short or garbled. `text_members`: name -> its JSON as a dict."""
    members = dict(members)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(members)))
        how = draw(st.sampled_from(["replace", "drop", "claim", "header", "field", "nonsense"]))
        if how == "drop":
            members.pop(name)
            if not members:
                break
        elif how == "claim":
            members[name] = npy_header(draw(st.sampled_from(["u1", "<i8", "<f8"])), (10**12,)) + b"\x00" * 16
        elif how == "header":  # NumPy's magic string, then a header that is not the dict it should be
            members[name] = garbled_npy_header(draw(st.text(max_size=60)))
        elif how in ("field", "nonsense") and text_members:
            text = draw(st.sampled_from(sorted(text_members)))
            document = json.loads(json.dumps(text_members[text]))
            if how == "field" and isinstance(document, dict) and document:
                key = draw(st.sampled_from(sorted(document)))
                inner = document[key]
                if isinstance(inner, dict) and inner and draw(st.booleans()):
                    inner[draw(st.sampled_from(sorted(inner)))] = draw(JSON_VALUES)
                else:
                    document[key] = draw(JSON_VALUES)
                encoded = json.dumps(document)
            else:
                encoded = draw(st.sampled_from(["[" * 100_000, "{}", "null", "[1, 2]", '"text"', "{bad json"])) \
                    if draw(st.booleans()) else json.dumps(draw(JSON_VALUES))
            members[text] = encoded.encode() if text == "info.json" else np.array(encoded)
        else:
            array = draw(odd_array())
            if array is not None:
                members[name] = array
    return draw(mutated(npz_bytes(members)))


@st.composite
def lpd_song_files(draw) -> bytes:
    """A real LPD song with its arrays and info.json changed."""
    members = read_npz_members(LPD_SONG)
    info = json.loads(members["info.json"])
    return with_changes(draw, members, {"info.json": info})


@st.composite
def phrase_pack_files(draw, pack: Path) -> bytes:
    """A real phrase pack (`pack`) with its arrays and meta changed."""
    members = read_npz_members(pack)
    return with_changes(draw, members, {"meta": json.loads(str(members["meta"]))})


def deflated_zeros(prefix: bytes, n_zeros: int) -> tuple[bytes, int]:
    """(raw deflate data, CRC-32) of `prefix` then `n_zeros` zero bytes, made in a second or
    two for gigabytes: after a full flush deflate starts afresh, so every 16 MiB of zeros
    compresses to the same block, made once."""
    chunk = bytes(2**24)

    def block(data: bytes, end: int) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(end)

    full, rest = divmod(n_zeros, len(chunk))
    crc = zlib.crc32(prefix)
    for _ in range(full):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(chunk[:rest], crc)
    data = block(prefix, zlib.Z_FULL_FLUSH) + block(chunk, zlib.Z_FULL_FLUSH) * full + block(chunk[:rest], zlib.Z_FINISH)
    return data, crc


def zip_bomb(members: dict[str, bytes | tuple[str, int]]) -> bytes:
    """A zip of members given as bytes, or as (dtype, n) for a .npy array of n zeros that
    really inflates to its size (its CRC right, so that zipfile reads it to the end)."""
    entries, body = [], b""
    for name, value in members.items():
        if isinstance(value, tuple):
            dtype, n = value
            prefix = npy_header(dtype, (n,))
            size = len(prefix) + n * np.dtype(dtype).itemsize
            data, crc = deflated_zeros(prefix, size - len(prefix))
        else:
            size, crc = len(value), zlib.crc32(value)
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            data = compressor.compress(value) + compressor.flush()
        encoded = (name if name.endswith(".json") else f"{name}.npy").encode()
        header = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0)
        entries.append((encoded, crc, len(data), size, len(body)))
        body += header + encoded + data
    directory = b"".join(
        struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, csize, size, len(name), 0, 0, 0, 0, 0, offset)
        + name for name, crc, csize, size, offset in entries)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0)
    return body + directory + end


def lpd_bomb(inflated: int) -> bytes:
    """An LPD song whose one track's velocities inflate to `inflated` bytes."""
    info = json.dumps({"resolution": 24, "0": {"name": "x", "program": 0, "is_drum": False}}).encode()
    return zip_bomb({
        "info.json": info, "tempo": _npy(np.array([120.0])), "pianoroll_0_csc_data": ("u1", inflated),
        "pianoroll_0_csc_indices": _npy(np.zeros(1, np.int32)), "pianoroll_0_csc_indptr": _npy(np.zeros(129, np.int32)),
        "pianoroll_0_csc_shape": _npy(np.array([96, 128])),
    })


def pack_bomb(inflated: int, consistent: bool = True) -> bytes:
    """A phrase pack whose bits inflate to about `inflated` bytes: with `consistent`, its meta
    declares as many (silent) phrases, so that only how far it inflates gives it away."""
    phrase_bits = 5 * 64 * 84 // 8
    n = inflated // phrase_bits if consistent else 1
    meta = {"files": ["a.mid"], "genres": [], "report": {"files_found": 1, "files_used": 1, "rejected": {}},
            "shape": [n, 5, 64, 84], "spec": {"track_set": 5, "steps_per_beat": 4, "n_bars": 4, "lowest_pitch": 24,
                                              "n_pitches": 84, "min_tracks": 0}}
    return zip_bomb({"bits": ("u1", n * phrase_bits if consistent else inflated), "song": ("<i8", n),
                     "genre": ("<i8", n), "validation_songs": _npy(np.zeros(1, bool)),
                     "meta": _npy(np.array(json.dumps(meta)))})


def _npy(array: np.ndarray) -> bytes:
    handle = io.BytesIO()
    np.lib.format.write_array(handle, array, allow_pickle=False)
    return handle.getvalue()


# ---------------------------------------------------------------------------------------
# Model files (.safetensors: an 8-byte header length, a JSON header, the weights)


def safetensors_parts(path: Path) -> tuple[dict, bytes]:
    """(header as a dict, the weights' bytes) of a .safetensors file."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def safetensors_bytes(header: dict, weights: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + weights


@st.composite
def model_files(draw, model: Path) -> bytes:
    """A real model (`model`) with its config, a decoding entry, a weight's entry in the
    header, the header itself or its length changed, or its bytes cut short or garbled."""
    header, weights = safetensors_parts(model)
    metadata = header.setdefault("__metadata__", {})
    how = draw(st.sampled_from(["config field"] * 3 + ["entry"] * 3 + ["entry text", "weight", "weight", "header",
                                                                      "length", "bytes"]))
    if how == "config field":
        config = json.loads(metadata["config"])
        config[draw(st.sampled_from(sorted(config)))] = draw(JSON_VALUES)
        metadata["config"] = json.dumps(config)
    elif how == "entry":
        key = draw(st.sampled_from(["threshold", "hold_ratio", "track_scales", "monophonic", "onset_prior",
                                    "onset_spread", "register", "repeats", "default_genre", "progressions"]))
        metadata[key] = json.dumps(draw(JSON_VALUES))
    elif how == "entry text":
        metadata[draw(st.sampled_from(sorted(metadata)))] = draw(st.text(max_size=30))
    elif how == "weight":
        name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        entry = header[name]
        field = draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
        entry[field] = (draw(st.sampled_from(MODEL_DTYPES)) if field == "dtype" else
                        draw(st.lists(st.integers(0, 2**40), max_size=4)) if field == "shape" else
                        sorted(draw(st.lists(st.integers(0, 2**62), min_size=2, max_size=2))))
    elif how == "header":
        header = draw(JSON_VALUES)
        header = header if isinstance(header, dict) else {"__metadata__": header}
    elif how == "length":
        return struct.pack("<Q", draw(st.integers(0, 2**64 - 1))) + safetensors_bytes(header, weights)[8:]
    data = safetensors_bytes(header, weights)
    return draw(mutated(data)) if how == "bytes" else data


# ---------------------------------------------------------------------------------------
# Running a command and measuring it

# A small launcher runs the command and reports its exit status and peak memory (wait4's
# ru_maxrss of that child alone): a child forked straight from a test process would count
# the test process's own pages in its peak. With a folder and a count, it stops the command
# (Ctrl-C) once the folder holds that many files, or after `limit` seconds.
_LAUNCHER = r"""
import os, signal, subprocess, sys, tempfile, time
folder, count, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with tempfile.TemporaryFile() as err:
    # Ctrl-C as from a terminal: a test run started in the background (`pytest &`, a CI
    # runner) ignores SIGINT, and a child inherits that, so it would never stop
    child = subprocess.Popen(sys.argv[4:], stdout=subprocess.DEVNULL, stderr=err,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    start = time.monotonic()
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        # files written whole: a hidden ".name.part" being written may yet vanish on Ctrl-C
        written = [n for n in os.listdir(folder) if not n.startswith(".")] if count and os.path.isdir(folder) else []
        if time.monotonic() - start > limit or (count and len(written) >= count):
            child.send_signal(signal.SIGINT)
            _, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.1)
    child.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    print(child.returncode, usage.ru_maxrss, round(time.monotonic() - start, 1))
    sys.stderr.buffer.write(err.read())
"""


def run_measured(args: list[str], limit: float = 300, folder: Path | None = None,
                 count: int = 0) -> tuple[int, str, float, float]:
    """Run `bytes2beats *args` in a process of its own: (exit status, stderr, peak memory in
    MiB, seconds). With `folder` and `count`, Ctrl-C once the folder holds `count` files."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _LAUNCHER, str(folder or ""), str(count), str(limit),
                          sys.executable, "-m", "bytes2beats", *args],
                         capture_output=True, text=True, timeout=limit + 60)
    code, max_rss, seconds = run.stdout.split()
    return int(code), run.stderr, int(max_rss) / 1024, float(seconds)  # ru_maxrss: KiB on Linux
