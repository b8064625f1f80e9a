"""Page 2 of the training wizard: read every song, off the GUI thread, and say what was found.

The scan is the engine's `build_phrases` (cached, so the training process that follows
starts at once), run by a BackgroundCall that reports file by file. The page shows files
found, used and rejected (each with its reason), the instrument families, the phrases,
and a few real phrases as pianorolls.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.music_io import MusicFileError, find_music_files
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QLabel,
    QProgressBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from .wizard_background import BackgroundCall
from .wizard_data_page import ERROR_STYLE
from .wizard_phrase_picture import families_html, phrase_picture, to_pixmap
from .wizard_plan import ScanResult, TrainingPlan

PREVIEWS = 3
PREVIEW_SIZE = (280, 220)


# ---------------------------------------------------------------------------------------
# The work (a pool thread; no widgets)


def scan_folder(folder: Path, spec: PhraseSpec, cache_dir: Path, call: BackgroundCall) -> ScanResult:
    """The phrases (`spec`) of every song under `folder`, or a message that says why there
    are none; cached, so the training process that follows reads them from the cache."""
    everything = [p for p in folder.rglob("*") if p.is_file()]
    if not everything:
        return ScanResult(None, "This folder is empty: put your MIDI (.mid) or LPD (.npz) files in it, "
                                "or choose another folder.")
    music = find_music_files(folder)
    if not music:
        examples = ", ".join(p.name for p in everything[:3])
        return ScanResult(None, f"No MIDI (.mid) or LPD (.npz) files here: the folder holds "
                                f"{len(everything)} other file(s) ({examples}).", files_found=0)
    rejected: dict[str, str] = {}

    def progress(done: int, total: int, path: str, reason: str | None) -> None:
        name = str(Path(path).relative_to(folder))
        if reason:
            rejected[name] = reason
        call.report((done, total, name, reason))

    call.report((0, len(music), "", None))
    try:
        phrases = build_phrases(folder, spec, cache_dir=cache_dir, progress=progress)
    except MusicFileError as error:
        if not rejected:  # from the cache or a failure of its own: say what the engine said
            return ScanResult(None, f"None of the {len(music)} music files can be used: {error.reason}.",
                              rejected, len(music))
        return ScanResult(None, f"None of the {len(music)} music files can be used: each is listed "
                                "below with its reason.", rejected, len(music))
    return ScanResult(phrases, None, dict(phrases.report["rejected"]), len(music),
                      preview_pictures(phrases, spec), available_devices(), spec)


def preview_pictures(phrases, spec: PhraseSpec, count: int = PREVIEWS) -> list[tuple[str, Image.Image, list[int]]]:
    """A few real phrases from different songs: (file, picture, tracks playing)."""
    rng = np.random.default_rng(0)
    pool = np.sort(rng.choice(len(phrases), min(len(phrases), 2000), replace=False))
    rolls = phrases.rolls[pool]  # (n, tracks, steps, pitches)
    # Most instruments playing first, then most notes: the phrases that show the data best.
    score = rolls.any(axis=(2, 3)).sum(axis=1) * 100_000 + rolls.sum(axis=(1, 2, 3))
    pictures, songs = [], set()
    steps_per_bar = 4 * spec.steps_per_beat
    for k in np.argsort(-score):
        song = int(phrases.song[pool[k]])
        if song in songs:
            continue
        songs.add(song)
        playing = [int(i) for i in np.flatnonzero(rolls[k].any(axis=(1, 2)))]
        pictures.append((phrases.files[song], phrase_picture(rolls[k], steps_per_bar), playing))
        if len(pictures) == count:
            break
    return pictures


def available_devices() -> list[tuple[str, str]]:
    """(--device value, description) for each device here; a GPU is named when present."""
    import torch
    from bytes2beats.engine.device import describe_device, pick_device

    devices = [("auto", f"Automatic: {describe_device(pick_device('auto'))}")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            devices.append((f"cuda:{i}", describe_device(torch.device("cuda", i))))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append(("mps", describe_device(torch.device("mps"))))
    devices.append(("cpu", describe_device(torch.device("cpu"))))
    return devices


# ---------------------------------------------------------------------------------------
# The page


class ScanPage(QWizardPage):
    def __init__(self, plan: TrainingPlan, parent=None):
        super().__init__(parent)
        self.plan = plan
        self.call: BackgroundCall | None = None
        self.setTitle("Reading your songs")
        self.setSubTitle("Every file is read and cut into phrases, the way the model will see them.")

        self.bar = QProgressBar()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.rejected = QTreeWidget()
        self.rejected.setHeaderLabels(["File left out", "Why"])
        self.rejected.setRootIsDecorated(False)
        self.rejected.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.rejected.setColumnWidth(0, 260)
        self.rejected.setMaximumHeight(130)
        self.previews = QWidget()
        self.preview_grid = QGridLayout(self.previews)
        self.preview_grid.setContentsMargins(0, 0, 0, 0)

        layout = QVBoxLayout(self)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(self.summary)
        layout.addWidget(self.rejected)
        layout.addWidget(self.previews)
        layout.addStretch(1)

    # -- the scan ------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.plan.scan = None
        self.error.hide()
        self.summary.clear()
        self.rejected.clear()
        self.rejected.hide()
        self._clear_previews()
        self.bar.setRange(0, 0)  # busy until the files are counted
        self.status.setText(f"Looking for songs under {self.plan.data_folder} …")
        folder, spec, cache = self.plan.data_folder, self.plan.phrase_spec, self.plan.cache_dir
        self.call = BackgroundCall(lambda call: scan_folder(folder, spec, cache, call))
        self.call.progress.connect(self.on_progress)
        self.call.done.connect(self.on_done)
        self.call.failed.connect(self.on_failed)
        self.call.start()
        self.completeChanged.emit()

    def cleanupPage(self) -> None:
        """Back to the folder: the scan under way is dropped."""
        if self.call is not None:
            self.call.cancel()
            self.call = None

    def isComplete(self) -> bool:
        return self.plan.scan is not None and self.plan.scan.phrases is not None

    def on_progress(self, value) -> None:
        done, total, name, reason = value
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        if name:
            self.status.setText(f"Read {done} of {total}: {name}" + (f" — left out: {reason}" if reason else ""))
        if reason:
            self._add_rejected(name, reason)

    def on_failed(self, message: str) -> None:
        self.on_done(ScanResult(None, f"The scan failed: {message}"))

    def on_done(self, result: ScanResult) -> None:
        self.call = None
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.status.clear()
        self.rejected.clear()
        for name, reason in sorted(result.rejected.items()):
            self._add_rejected(name, reason)
        if result.phrases is None:
            self.error.setText(result.error or "No usable songs.")
            self.error.show()
        else:
            self.plan.scan = result
            self.summary.setText(self._summary_html(result))
            self._show_previews(result.previews)
        self.completeChanged.emit()

    # -- showing what was found ----------------------------------------------------------

    def _summary_html(self, result: ScanResult) -> str:
        phrases = result.phrases
        report = phrases.report
        total = len(phrases)
        training = result.training_phrases
        families = ", ".join(f"{name} {count}" for name, count in report["tracks_playing"].items() if count)
        lines = [
            f"<b>{report['files_found']}</b> music files found, <b>{report['files_used']}</b> used, "
            f"<b>{len(report['rejected'])}</b> left out.",
            f"<b>{total}</b> phrases of {result.spec.n_bars} bars: {training} to train on, "
            f"{total - training} kept apart "
            "to check the model with.",
            f"Instrument families (phrases each plays in): {families}.",
            f"A phrase counts when at least {report['min_tracks']} instruments play in it.",
        ]
        genres = [html.escape(g) for g in self.plan.genres]
        if self.plan.use_genres and len(genres) >= 2:
            lines.append(f"Genres, from the sub-folders: <b>{', '.join(genres)}</b>.")
        elif self.plan.use_genres and genres:
            lines.append(f"One sub-folder only ({genres[0]}): the model learns one style.")
        return "<br>".join(lines)

    def _add_rejected(self, name: str, reason: str) -> None:
        if not self.rejected.findItems(name, Qt.MatchFlag.MatchExactly, 0):
            item = QTreeWidgetItem([name, reason])
            item.setToolTip(0, name)
            item.setToolTip(1, reason)
            self.rejected.addTopLevelItem(item)
        self.rejected.show()

    def _clear_previews(self) -> None:
        while self.preview_grid.count():
            self.preview_grid.takeAt(0).widget().deleteLater()

    def _show_previews(self, pictures) -> None:
        self._clear_previews()
        names = [t.name for t in family_tracks(self.plan.phrase_spec.track_set)]
        for k, (name, picture, playing) in enumerate(pictures):
            image = QLabel()
            image.setPixmap(to_pixmap(picture).scaled(
                *PREVIEW_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
            image.setToolTip(f"A real {self.plan.phrase_spec.n_bars}-bar phrase from {name}, as the model will see it")
            caption = QLabel(f"{html.escape(Path(name).name)}<br>{families_html(names, playing)}")
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.preview_grid.addWidget(image, 0, k, Qt.AlignmentFlag.AlignHCenter)
            self.preview_grid.addWidget(caption, 1, k)
