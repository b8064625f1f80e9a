"""Training phrases from a folder of songs.

A song (LPD `.npz` or MIDI) is merged into the model's instrument families, put on the
model's grid, cut into phrases of `n_bars` bars, and a phrase is kept when enough of its
tracks play (as MuseGAN does). Pitches are cropped to the model's range (MuseGAN's 84,
C1-B7). The result is cached on disk, keyed by the files and the settings, so a second run
starts at once. Songs, not phrases, are split into training and validation, by a hash of
the file name, so the split never changes and no song leaks across it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import zipfile
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .families import family_tracks, merge_to_families
from .file_limits import (
    MAX_PACK_INFLATION,
    MAX_PACK_META_BYTES,
    FileLimitError,
    NpyMember,
    npz_members,
)
from .music_io import MusicFileError, find_music_files, read_music, short_reason, write_atomically
from .packed_rolls import PackedRolls
from .pianoroll import Multitrack, resample

CACHE_VERSION = 1


@dataclass(frozen=True)
class PhraseSpec:
    """What a phrase is: the settings that the cache is keyed by."""

    track_set: int = 5
    steps_per_beat: int = 4
    n_bars: int = 4
    lowest_pitch: int = 24  # C1
    n_pitches: int = 84  # up to B7
    min_tracks: int = 0  # 0: auto, min(3, the most families any song of the folder has)

    @property
    def n_steps(self) -> int:
        return self.n_bars * 4 * self.steps_per_beat

    @classmethod
    def of_model(cls, cfg) -> PhraseSpec:
        """The phrases a model (its ModelConfig) reads and writes: its tracks, resolution and range."""
        return cls(cfg.track_set, cfg.steps_per_beat, cfg.n_bars, cfg.lowest_pitch, cfg.n_pitches)

    def cut_for(self, cfg) -> bool:
        """Whether a model (its ModelConfig) plays phrases cut so: its tracks, steps a beat and
        bars (a pitch range is cropped when read). A pack of 16ths read by a 48-step model
        would give phrases of a third of its length."""
        return (self.track_set, self.steps_per_beat, self.n_bars) == (cfg.track_set, cfg.steps_per_beat, cfg.n_bars)


@dataclass
class Phrases:
    """Phrases as one array, with the song and genre each came from."""

    rolls: PackedRolls  # (n, tracks, steps, pitches) bool, as bits (a bool array given is packed)
    song: np.ndarray  # (n,) int: index into `files`
    genre: np.ndarray  # (n,) int: index into `genres`, -1 when unlabelled
    files: list[str]
    genres: list[str]
    validation_songs: np.ndarray  # (n_files,) bool
    report: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.rolls, PackedRolls):
            self.rolls = PackedRolls.pack(self.rolls)

    def split(self, validation: bool) -> Phrases:
        """The training (False) or validation (True) phrases."""
        return self.take(np.flatnonzero(self.validation_songs[self.song] == validation))

    def take(self, rows: np.ndarray) -> Phrases:
        """The phrases at `rows` (a copy of those alone), with the same songs and genres."""
        return Phrases(
            self.rolls.take(rows), self.song[rows], self.genre[rows], self.files, self.genres,
            self.validation_songs, self.report,
        )

    def __len__(self) -> int:
        return len(self.rolls)


def default_cache_dir() -> Path:
    """Where phrase caches live unless told otherwise: the user's cache folder."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("bytes2beats", appauthor=False))


def is_validation_song(path: str | Path, fraction: float = 0.1) -> bool:
    """A fixed tenth of the songs, chosen by a hash of the file name."""
    digest = hashlib.md5(Path(path).stem.encode()).digest()
    return int.from_bytes(digest[:4], "little") / 2**32 < fraction


def genre_of(path: Path, root: Path) -> str | None:
    """The genre a song is filed under: its first folder below the data root, if any."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


def song_phrases(mt: Multitrack, spec: PhraseSpec) -> tuple[np.ndarray, int]:
    """Cut one song into phrases: ((n, tracks, steps, pitches) bool, families that play).

    Phrases are not yet filtered by how many tracks play (see `min_tracks`).
    """
    families = family_tracks(spec.track_set)
    # read_music merges as it reads (track_set): a song already in families is not copied again
    merged = mt if mt.tracks == families else merge_to_families(mt, spec.track_set)
    if merged.steps_per_beat != spec.steps_per_beat:
        merged = resample(merged, spec.steps_per_beat)
    pitches = slice(spec.lowest_pitch, spec.lowest_pitch + spec.n_pitches)
    n = merged.n_steps // spec.n_steps
    # One family at a time, so that no second whole-song copy is made:
    # (n * steps, pitches) of a family -> its (n, steps, pitches) in (n, tracks, steps, pitches)
    cut = np.empty((n, len(families), spec.n_steps, spec.n_pitches), dtype=bool)
    families_present = 0
    for t, roll in enumerate(merged.rolls):
        families_present += bool(roll[:, pitches].any())
        cut[:, t] = (roll[: n * spec.n_steps, pitches] > 0).reshape(n, spec.n_steps, spec.n_pitches)
    return cut, families_present


def _read_song(args: tuple[str, PhraseSpec]) -> tuple[str, np.ndarray | None, int, str | None]:
    path, spec = args
    try:
        mt = read_music(path, steps_per_beat=spec.steps_per_beat, track_set=spec.track_set)
    except MusicFileError as error:
        return path, None, 0, error.reason
    except MemoryError:
        return path, None, 0, "too large to read"
    phrases, present = song_phrases(mt, spec)
    if len(phrases) == 0:
        return path, None, 0, f"too short (under {spec.n_bars} bars)"
    return path, phrases, present, None


def build_phrases(
    folder: str | os.PathLike,
    spec: PhraseSpec,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress=None,
) -> Phrases:
    """Phrases from every music file under `folder`, from the cache when it is fresh.

    `progress(done, total, path, reason)` is called once per file (reason None when used).
    Files that cannot be read are skipped and listed in `report["rejected"]`.
    """
    root = Path(folder)
    files = find_music_files(root)
    if not files:
        raise MusicFileError(root, "no MIDI or .npz files in this folder")
    cache_path = _cache_path(files, spec, cache_dir) if cache_dir else None
    if cache_path and cache_path.exists():
        cached = _load_cache(cache_path)
        if cached is not None:
            return cached

    jobs = [(str(p), spec) for p in files]
    results = []
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for k, result in enumerate(pool.map(_read_song, jobs, chunksize=4)):
                results.append(result)
                if progress:
                    progress(k + 1, len(jobs), result[0], result[3])
    else:
        for k, job in enumerate(jobs):
            results.append(_read_song(job))
            if progress:
                progress(k + 1, len(jobs), results[-1][0], results[-1][3])

    used = [(p, r, present) for p, r, present, reason in results if r is not None]
    rejected = {p: reason for p, r, _, reason in results if r is None}
    if not used:
        raise MusicFileError(root, f"no usable songs among {len(files)} files ({_reasons(rejected)})")
    min_tracks = spec.min_tracks or min(3, max(present for _, _, present in used))
    genre_names = sorted({g for p, _, _ in used if (g := genre_of(Path(p), root))})
    keep_rolls, song_ids, genre_ids, kept_files = [], [], [], []
    playing_counts = np.zeros(len(family_tracks(spec.track_set)), dtype=np.int64)
    for path, rolls, _ in used:
        playing = rolls.any(axis=(2, 3)).sum(axis=1)  # (n,) tracks that play in each phrase
        rolls = rolls[playing >= min_tracks]
        if len(rolls) == 0:
            rejected[path] = f"no phrase with {min_tracks} or more instruments playing"
            continue
        genre = genre_of(Path(path), root)
        kept_files.append(path)
        playing_counts += rolls.any(axis=(2, 3)).sum(axis=0)
        keep_rolls.append(PackedRolls.pack(rolls))  # a song at a time: the set is never whole as bools
        song_ids.append(np.full(len(rolls), len(kept_files) - 1))
        genre_ids.append(np.full(len(rolls), genre_names.index(genre) if genre else -1))
    if not keep_rolls:
        raise MusicFileError(root, f"no usable phrases among {len(files)} files ({_reasons(rejected)})")
    report = {
        "files_found": len(files),
        "files_used": len(kept_files),
        "rejected": {str(Path(p).relative_to(root)): r for p, r in sorted(rejected.items())},
        "min_tracks": min_tracks,
        "tracks_playing": {t.name: int(c) for t, c in zip(family_tracks(spec.track_set), playing_counts)},
    }
    phrases = Phrases(
        rolls=PackedRolls.concatenate(keep_rolls),
        song=np.concatenate(song_ids),
        genre=np.concatenate(genre_ids).astype(np.int64),
        files=[str(Path(p).relative_to(root)) for p in kept_files],
        genres=genre_names,
        validation_songs=np.array([is_validation_song(p) for p in kept_files]),
        report=report,
    )
    if cache_path:
        _save_cache(cache_path, phrases, spec)
    return phrases


def _reasons(rejected: dict[str, str]) -> str:
    """The three commonest reasons, each with the first file it rejected."""
    counts = Counter(rejected.values()).most_common(3)
    first = {reason: Path(path).name for path, reason in reversed(rejected.items())}
    return "; ".join(f"{first[reason]}: {reason}" if n == 1 else f"{n} files, as {first[reason]}: {reason}"
                     for reason, n in counts) or "none readable"


def _cache_path(files: list[Path], spec: PhraseSpec, cache_dir) -> Path:
    h = hashlib.sha1(json.dumps([CACHE_VERSION, asdict(spec)]).encode())
    for p in files:
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return Path(cache_dir) / f"phrases-{h.hexdigest()[:16]}.npz"


def _write_phrases(path: Path, phrases: Phrases, spec: PhraseSpec, compress: bool) -> None:
    """Phrases as one `.npz`, whole or not at all (music_io.write_atomically: written beside,
    then renamed); MusicFileError, one line, when it cannot be."""
    meta = {
        "files": phrases.files, "genres": phrases.genres, "report": phrases.report,
        "shape": list(phrases.rolls.shape), "spec": asdict(spec),
    }
    save = np.savez_compressed if compress else np.savez
    # Bits, not bytes: the rolls are binary, and packing makes the file 8x smaller.
    write_atomically(path, lambda file: save(
        file, bits=phrases.rolls.flat_bits(), song=phrases.song, genre=phrases.genre,
        validation_songs=phrases.validation_songs, meta=np.array(json.dumps(meta)),
    ))


def _save_cache(path: Path, phrases: Phrases, spec: PhraseSpec) -> None:
    # a cache is a convenience: failing to write one is no error
    with contextlib.suppress(OSError, MusicFileError):
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_phrases(path, phrases, spec, compress=False)


def _read_phrases(path: Path) -> tuple[Phrases, PhraseSpec]:
    """Phrases and their settings from a pack or a cache. The zip directory, the arrays'
    headers and the meta are checked against each other before the phrases are inflated
    (`_pack_layout`), so a file costs what the phrases it holds do, never more."""
    members = npz_members(path)
    meta_member = members.get("meta")
    if meta_member is None or meta_member.dtype.kind != "U" or meta_member.shape != ():
        raise ValueError("it has no meta text")
    inflation = meta_member.file_size / max(1, meta_member.compress_size)
    if meta_member.nbytes > MAX_PACK_META_BYTES and inflation > MAX_PACK_INFLATION:
        raise FileLimitError(f"its meta inflates {inflation:,.0f}-fold to {meta_member.nbytes / 2**20:,.0f} MiB")
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        spec, shape = _pack_layout(meta, members)
        # repacked along the pitch axis a chunk at a time: never the whole set as bools
        rolls = PackedRolls.from_flat_bits(data["bits"], shape)
        song, genre, validation = data["song"], data["genre"], data["validation_songs"]
    if len(song) and not (0 <= song.min() and song.max() < len(meta["files"])):
        raise ValueError("its phrases name songs it does not list")
    if len(genre) and not (-1 <= genre.min() and genre.max() < len(meta["genres"])):
        raise ValueError("its phrases name genres it does not list")
    return Phrases(rolls, song, genre, meta["files"], meta["genres"], validation, meta["report"]), spec


def _pack_layout(meta, members: dict[str, NpyMember]) -> tuple[PhraseSpec, tuple[int, ...]]:
    """The settings and the (phrases, tracks, steps, pitches) shape a pack's meta declares,
    once they agree with each other and with every array's header; ValueError if not."""
    if not isinstance(meta, dict) or not isinstance(meta.get("spec"), dict):
        raise ValueError("its meta is not a table with a spec")
    spec = PhraseSpec(**meta["spec"])  # TypeError for a field it does not know
    if not all(type(getattr(spec, f.name)) is int and getattr(spec, f.name) >= 0 for f in fields(spec)):
        raise ValueError(f"its spec is not made of whole numbers ({str(meta['spec'])[:60]})")
    for key in ("files", "genres"):
        if not isinstance(meta.get(key), list) or not all(isinstance(v, str) for v in meta[key]):
            raise ValueError(f"its {key} are not a list of names")
    report = meta.get("report")
    if not (isinstance(report, dict) and isinstance(report.get("rejected"), dict)
            and all(type(report.get(k)) is int for k in ("files_found", "files_used"))):
        raise ValueError("its report is not what `bytes2beats phrases` writes")
    shape = meta.get("shape")
    expected = [len(family_tracks(spec.track_set)), spec.n_steps, spec.n_pitches]
    if not (isinstance(shape, list) and len(shape) == 4 and type(shape[0]) is int and shape[0] >= 0
            and shape[1:] == expected):
        raise ValueError(f"phrases of shape {str(shape)[:40]}, not (n, {', '.join(map(str, expected))}) "
                         "as its spec says")
    n = shape[0]
    arrays = {"bits": ("u", (-(-math.prod(shape) // 8),)), "song": ("iu", (n,)), "genre": ("iu", (n,)),
              "validation_songs": ("b", (len(meta["files"]),))}
    for name, (kinds, array_shape) in arrays.items():
        member = members.get(name)
        if member is None or member.dtype.kind not in kinds or member.shape != array_shape:
            raise ValueError(f"its {name} array does not fit its {n:,} phrases")
    bits = members["bits"]
    if bits.dtype != np.uint8:
        raise ValueError(f"its bits are {bits.dtype}, not bytes")
    inflation = bits.file_size / max(1, bits.compress_size)
    if inflation > MAX_PACK_INFLATION:
        raise FileLimitError(f"its phrases inflate {inflation:,.0f}-fold (at most {MAX_PACK_INFLATION}; "
                             "real phrases, under 50)")
    return spec, tuple(shape)


# What a cut-off, corrupt, foreign or hostile .npz raises on reading (FileLimitError is a ValueError).
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, RecursionError, zipfile.BadZipFile, zlib.error)


def _load_cache(path: Path) -> Phrases | None:
    try:
        return _read_phrases(path)[0]
    except UNREADABLE:
        return None  # a broken cache is rebuilt


# ---------------------------------------------------------------------------------------
# Phrase packs: a data set's phrases in one compressed file (the LPD's 2,092 songs at 48
# steps a bar: 14 MB), to train where the songs are not, e.g. on a rented GPU.

PACK_SUFFIX = ".phrases.npz"


def save_phrase_pack(phrases: Phrases, spec: PhraseSpec, path: str | os.PathLike) -> Path:
    """Write `phrases` as a pack, whole or not at all; MusicFileError (one line naming the
    file) when it cannot be written."""
    path = Path(path)
    _write_phrases(path, phrases, spec, compress=True)
    return path


def load_phrase_pack(path: str | os.PathLike) -> tuple[Phrases, PhraseSpec]:
    """A pack written by `save_phrase_pack`, with the settings its phrases were cut with."""
    try:
        return _read_phrases(Path(path))
    except FileLimitError as error:
        raise MusicFileError(Path(path), str(error)) from None
    except UNREADABLE as error:
        raise MusicFileError(Path(path), f"not a phrase pack ({short_reason(error)})") from None


def load_phrase_pack_for(path: str | os.PathLike, cfg) -> tuple[Phrases, PhraseSpec]:
    """`load_phrase_pack`, refused in one line (MusicFileError) when the model of `cfg` (its
    ModelConfig) plays phrases cut otherwise."""
    phrases, spec = load_phrase_pack(path)
    if not spec.cut_for(cfg):
        raise MusicFileError(Path(path), f"cut at {spec.steps_per_beat} steps a beat, {spec.n_bars} bars and track "
                                         f"set {spec.track_set}; the model plays {cfg.steps_per_beat}, {cfg.n_bars} "
                                         f"and {cfg.track_set} (bytes2beats phrases --steps-per-beat {cfg.steps_per_beat})")
    return phrases, spec


def is_phrase_pack(path: str | os.PathLike) -> bool:
    return Path(path).name.endswith(PACK_SUFFIX) and Path(path).is_file()
