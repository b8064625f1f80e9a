"""What a file handed to the app may claim, checked before anything big is allocated.

A few kilobytes of MIDI can claim thousands of instruments over hours of music, and a
compressed `.npz` can inflate a thousandfold: left unchecked, a small file took gigabytes
(issue 17). Every limit below is a claim a file makes that is cheap to read (a count of
events, notes or instruments, a song's length, a zip member's declared size, an array's
header), measured against the largest real value in the project's data, with a wide margin:

- the LPD, 2,200 songs (../shared/data/lpd): at most 55 tracks, 29,304 steps at 24 a beat
  (1,221 beats), 27,519 notes, a 605 KB file that unzips to 2.5 MB in at most 223 members,
  and 122 MB as a dense (tracks, steps, 128) pianoroll (the 55-track song);
- POP909, 909 MIDI files (../shared/data/pop909): at most 31 KB, 8,706 events, 4,233 notes,
  3 instruments, 785 beats;
- the LPD cut into phrases (packs): their bits unzip 21-43x, by steps a beat.

bench/fuzz_files.py feeds the commands hostile files and reports the worst peak memory.
"""

from __future__ import annotations

import math
import os
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

# -- every music file
MAX_FILE_BYTES = 64 * 2**20  # a MIDI file of 64 MiB is 2,000 times POP909's largest
# A song longer than this is no song: 6.7x the LPD's longest (1,221 beats), 68 minutes at 120 BPM.
MAX_BEATS = 8192
MAX_NOTES = 500_000  # 18x the LPD's most (27,519); a note costs about 150 bytes while read
MAX_INSTRUMENTS = 256  # 4.6x the LPD's most tracks (55); General MIDI has 16 channels
MAX_RESOLUTION = 960  # steps a beat of an LPD .npz (the LPD's: 24); MIDI files rarely have more ticks
# The dense (instruments or families, steps, 128) pianoroll a file is read into: 2.1x the
# LPD's largest (122 MB). Reading merges instruments into families when it can, so a training
# song costs far less (at most 64 MB for the LPD's songs in 17 families).
MAX_ROLL_BYTES = 256 * 2**20

# -- MIDI: events are read without keeping them (engine/smf.py), so they cost time, not memory
MAX_EVENTS = 1_000_000  # 115x POP909's most (8,706); about two seconds of reading

# -- NumPy archives (.npz): LPD songs, phrase packs and the phrase cache
MAX_NPZ_MEMBERS = 1024  # 4.6x the LPD's most (223); a pack has five
MAX_SONG_NPZ_BYTES = 32 * 2**20  # an LPD song, unzipped: 13x the largest (2.5 MB)
# A pack's file list and report: 38x the LPD's (425 KB, which unzips 7x); a bigger one (a data
# set of 80,000 songs or more) must not inflate more than its phrases may.
MAX_PACK_META_BYTES = 16 * 2**20
# A pack's phrase bits may unzip to this many times their compressed size: real ones unzip
# 21x (LPD jazz at 4 steps a beat), 36x (all the LPD at 12) and 43x (jazz at 24); all-silent
# or repeated phrases, which no song gives, about 1,000x. So a pack's memory stays in
# proportion to the music it holds: at most 100 x 8 (bits to bools) = 800 times its size.
MAX_PACK_INFLATION = 100


class FileLimitError(ValueError):
    """A file that claims more than any real one does: str() says what and the limit."""


@dataclass(frozen=True)
class NpyMember:
    """One array of a NumPy archive, as its zip entry and .npy header declare it."""

    dtype: np.dtype
    shape: tuple[int, ...]
    file_size: int  # declared uncompressed size: zipfile never inflates past it
    compress_size: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def npz_members(path: str | os.PathLike, max_total: int | None = None) -> dict[str, NpyMember]:
    """The arrays of a `.npz` by name (without `.npy`), read from the zip directory and each
    array's header alone: nothing is inflated beyond the headers. An entry that is no .npy
    array (the LPD's info.json) is its bytes, as np.load gives it.

    FileLimitError for more members than any real archive has, an array that claims more
    bytes than its entry holds, an array of Python objects, or (`max_total`) members that
    unzip to more than that in all; ValueError (one line) for a damaged archive.
    """
    try:
        return _members(path, max_total)
    except FileLimitError:
        raise
    except _DAMAGED as error:  # what zipfile and NumPy's header parser raise on garbage
        raise ValueError(f"a damaged archive ({type(error).__name__}: {str(error)[:80]})") from None


# zipfile: BadZipFile, zlib.error, EOFError, NotImplementedError (an unknown compression
# method), RuntimeError (an encrypted entry), struct.error; NumPy's .npy header parser:
# ValueError, SyntaxError and tokenize's TokenError.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, struct.error,
            OverflowError, ValueError, SyntaxError, tokenize.TokenError)


def _members(path: str | os.PathLike, max_total: int | None) -> dict[str, NpyMember]:
    entries = _zip_entry_count(path)
    if entries is not None and entries > MAX_NPZ_MEMBERS:
        raise FileLimitError(f"{entries:,} arrays (at most {MAX_NPZ_MEMBERS:,})")
    members = {}
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_NPZ_MEMBERS:
            raise FileLimitError(f"{len(infos):,} arrays (at most {MAX_NPZ_MEMBERS:,})")
        total = sum(info.file_size for info in infos)
        if max_total is not None and total > max_total:
            raise FileLimitError(f"it unzips to {total / 2**20:,.0f} MiB (at most {max_total / 2**20:,.0f} MiB)")
        for info in infos:
            name = info.filename.removesuffix(".npy")
            member = _member(archive, info)
            if member.dtype.hasobject:
                raise FileLimitError(f"its array {name[:40]!r} holds Python objects")
            if member.nbytes > info.file_size:
                raise FileLimitError(f"its array {name[:40]!r} claims {member.nbytes:,} bytes in an entry of "
                                     f"{info.file_size:,}")
            members[name] = member
    return members


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> NpyMember:
    """An entry as np.load reads it: an array when it starts with NumPy's magic string, its
    raw bytes otherwise (the LPD's info.json)."""
    with archive.open(info) as handle:
        magic = handle.read(np.lib.format.MAGIC_LEN)  # the prefix, then the format's version
        if magic[:-2] != np.lib.format.MAGIC_PREFIX:
            return NpyMember(np.dtype(np.uint8), (info.file_size,), info.file_size, info.compress_size)
        header = np.lib.format.read_array_header_1_0 if magic[-2] == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = header(handle)
    return NpyMember(dtype, tuple(shape), info.file_size, info.compress_size)


def _zip_entry_count(path: str | os.PathLike) -> int | None:
    """The number of entries a zip's end record declares, read before zipfile builds an
    object for each; None when there is no end record (zipfile then says why)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        tail_start = max(0, size - (22 + 65535))  # the end record, then a comment of up to 64 KiB
        handle.seek(tail_start)
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    (entries,) = struct.unpack("<H", tail[at + 10 : at + 12])
    return entries  # 0xFFFF for 65,535 or more (the exact count is then in a zip64 record)
