"""Where models live: the shipped ones inside the package, the user's own in their data folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "genres"
DEFAULT_CHORD_MODEL = "genres-chords"  # what plays `--chords` and `--key` when no model is named
MODEL_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    source: str  # "shipped" or "user"


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
