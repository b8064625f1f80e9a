"""The training page's newest sample: its first clip as a pianoroll, and Play on a MIDI port.

The clip is the `.mid` the trainer writes beside each sample sheet (engine/train.py). Play
sends it once, at its tempo, through engine/live (a ClipLoop in a LiveSession with a bar
limit) to a virtual port; the port opens on a pool thread, and Stop, the end of the clip or
a closing wizard all close the session, which sends note-offs and all-notes-off.
"""

from __future__ import annotations

import math
from pathlib import Path

from bytes2beats.engine.training_job import TrainingJob
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .wizard_background import BackgroundCall
from .wizard_phrase_picture import clip_picture, families_html, to_pixmap

SAMPLE_PORT_NAME = "Bytes to Beats sample"
PLAY, STOP = "Play on MIDI port", "Stop"


def play_clip_file(path: Path, steps_per_beat: int, call: BackgroundCall):
    """Start playing one .mid once on a virtual MIDI port: the LiveSession playing it."""
    from bytes2beats.engine.live import ClipLoop, LiveSession, open_outputs
    from bytes2beats.engine.music_io import read_music

    clip = read_music(path, steps_per_beat=steps_per_beat)
    ports = open_outputs(list(clip.tracks), port_name=SAMPLE_PORT_NAME)  # Tracks: a 17-family sample takes two ports
    session = LiveSession(ClipLoop(clip), ports, bpm=clip.tempo, bars=max(1, math.ceil(clip.n_bars)))
    session.start()
    if call.cancelled:  # stopped before it began: nobody else will close it
        session.close()
    return session


class SampleView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.path: Path | None = None  # the sample sheet (.png) shown; its clip is the .mid beside it
        self.steps_per_beat = 4
        self.player: BackgroundCall | None = None
        self.session = None

        self.picture = QLabel("The first sample comes at the end of the first epoch.")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(300, 200)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.play_button = QPushButton(PLAY)
        self.play_button.setToolTip(f"Send this clip to the virtual MIDI port {SAMPLE_PORT_NAME!r}: "
                                    "connect your DAW or synth to it")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self.toggle_play)
        row = QHBoxLayout()
        row.addWidget(self.caption, 1)
        row.addWidget(self.play_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture, 1)
        layout.addLayout(row)

    def show_newest(self, job: TrainingJob) -> None:
        """Show the job's newest sample, if there is a new one (a small file: read here)."""
        from bytes2beats.engine.families import family_tracks
        from bytes2beats.engine.music_io import MusicFileError, read_music

        samples = [p for p in job.samples() if p.with_suffix(".mid").exists()]
        if not samples or samples[-1] == self.path:
            return
        request = job.request
        try:
            clip = read_music(samples[-1].with_suffix(".mid"), steps_per_beat=request.steps_per_beat)
        except MusicFileError:
            return  # still being written: the next poll takes it
        self.path, self.steps_per_beat = samples[-1], request.steps_per_beat
        picture, playing = clip_picture(clip, request.tracks)
        self.picture.setPixmap(to_pixmap(picture).scaled(
            self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        self.picture.setToolTip(f"All samples of this epoch: {self.path}")
        epoch = self.path.stem.removeprefix("epoch_").lstrip("0") or "0"
        names = [t.name for t in family_tracks(request.tracks)]
        self.caption.setText(f"A sample after epoch {epoch}: {families_html(names, playing)}")
        self.play_button.setEnabled(True)

    # -- playing -------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.session is not None or self.player is not None:
            self.stop()
            return
        path, steps_per_beat = self.path.with_suffix(".mid"), self.steps_per_beat
        self.player = BackgroundCall(lambda call: play_clip_file(path, steps_per_beat, call))
        self.player.done.connect(self.on_playing)
        self.player.failed.connect(self.on_play_failed)
        self.player.start()
        self.play_button.setText(STOP)

    def on_playing(self, session) -> None:
        self.player = None
        self.session = session
        QTimer.singleShot(200, self._check_playing)

    def _check_playing(self) -> None:
        if self.session is None:
            return
        if self.session.playing:
            QTimer.singleShot(200, self._check_playing)
        else:
            self.stop()  # the clip has ended

    def on_play_failed(self, message: str) -> None:
        self.player = None
        self.play_button.setText(PLAY)
        self.caption.setText(f"Cannot play: {message}")

    def stop(self) -> None:
        if self.player is not None:
            self.player.cancel()
            self.player = None
        if self.session is not None:
            self.session.close()  # note-offs and all-notes-off, then the port closes
            self.session = None
        self.play_button.setText(PLAY)
