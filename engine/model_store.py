"""Where models live: the shipped ones inside the package, the user's own in their data folder."""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "genres"
DEFAULT_CHORD_MODEL = "genres-chords"  # what plays `--chords` and `--key` when no model is named
MODEL_SUFFIX = ".safetensors"
CRITIC_PREFIX = "critic."  # a model file's critic weights (engine/model.py: save_model)
TAKES_PREFIX = "takes."  # a model file's take judges (engine/takes.py)
HEADER_LIMIT = 100 << 20  # a safetensors header larger than this is no model of ours


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    source: str  # "shipped" or "user"


def is_model_file(path: str | os.PathLike) -> bool:
    """A model file (by its name), as against a training checkpoint or a run folder."""
    return Path(path).suffix == MODEL_SUFFIX


def shipped_models_dir() -> Path:
    from bytes2beats import models  # the package folder that carries the shipped models

    return Path(models.__file__).parent


def user_models_dir() -> Path:
    """The user's own models (trained in the wizard or with `train --out NAME`)."""
    override = os.environ.get("BYTES2BEATS_USER_MODELS")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("bytes2beats", appauthor=False)) / "models"


def list_models() -> list[ModelEntry]:
    """Every model found, shipped first, each by name."""
    entries = []
    for source, folder in (("shipped", shipped_models_dir()), ("user", user_models_dir())):
        if folder.is_dir():
            for path in sorted(folder.glob(f"*{MODEL_SUFFIX}")):
                entries.append(ModelEntry(path.stem, path, source))
    return entries


def resolve_model(name_or_path: str | os.PathLike | None) -> Path:
    """A model's file from its name (user models win over shipped ones) or its path."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    candidate = Path(name_or_path)
    if candidate.suffix == MODEL_SUFFIX or os.sep in str(name_or_path):
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(f"model file {candidate} does not exist")
    matches = [e for e in list_models() if e.name == str(name_or_path)]
    if not matches:
        names = ", ".join(e.name for e in list_models()) or "none"
        raise FileNotFoundError(f"no model named {name_or_path!r} (models found: {names})")
    return matches[-1].path


@dataclass(frozen=True)
class FineTuningStart:
    """What the wizard shows of a model it can fine-tune, read from the file's header alone
    (no weights, no torch): its name, its shape, the rates it was trained at."""

    name: str
    path: Path
    source: str
    config: dict  # the ModelConfig's fields
    trained: dict  # its "trained" note: epochs, train_config, ...
    chooses_genre: bool = False  # it can tell which of its genres a user's songs sound most like (genre_lean)


def fine_tuning_starts() -> list[FineTuningStart]:
    """The models a user can fine-tune: those that carry their critic, shipped first (the
    default model at the very first), then the user's own; a file that cannot be read is left
    out (the picker says why, when chosen)."""
    starts = []
    for entry in list_models():
        header = read_model_header(entry.path)
        if header is None or not any(key.startswith(CRITIC_PREFIX) for key in header):
            continue
        metadata = header.get("__metadata__") or {}
        try:
            config, trained = json.loads(metadata["config"]), json.loads(metadata.get("trained", "{}"))
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(config, dict) and isinstance(trained, dict):
            starts.append(FineTuningStart(entry.name, entry.path, entry.source, config, trained,
                                          "genre_lean" in metadata))
    return sorted(starts, key=lambda start: (start.name != DEFAULT_MODEL, start.source != "shipped"))


def read_model_header(path: Path) -> dict | None:
    """A safetensors file's header (its tensors' names and its metadata), or None."""
    try:
        with open(path, "rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            if size > HEADER_LIMIT:
                return None
            header = json.loads(handle.read(size))
    except (OSError, struct.error, ValueError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) else None
