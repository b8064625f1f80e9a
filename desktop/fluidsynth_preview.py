"""Hearing a clip without a DAW: FluidSynth plays the exported .mid with a GM soundfont.

Optional: `FluidSynthPreview.find()` returns None where FluidSynth or a soundfont is
missing, and the window then shows no Preview at all. The synth runs as a separate
process (QProcess), so the GUI never waits for it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
)


def find_soundfont() -> Path | None:
    override = os.environ.get("BYTES2BEATS_SOUNDFONT")
    for candidate in ([override] if override else []) + list(SOUNDFONTS):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class FluidSynthPreview(QObject):
    """Plays .mid files through FluidSynth's default audio driver, one at a time."""

    playingChanged = Signal(bool)
    failed = Signal(str)

    def __init__(self, program: str, soundfont: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.program = program
        self.soundfont = soundfont
        self.process: QProcess | None = None

    @classmethod
    def find(cls, parent: QObject | None = None) -> FluidSynthPreview | None:
        program, soundfont = shutil.which("fluidsynth"), find_soundfont()
        return cls(program, soundfont, parent) if program and soundfont else None

    def arguments(self, midi: Path, wav: Path | None = None) -> list[str]:
        """Live to the sound card, or with `wav` rendered offline into that file."""
        render = ["-F", str(wav)] if wav else []
        return ["-n", "-i", "-q", *render, str(self.soundfont), str(midi)]

    @property
    def playing(self) -> bool:
        return self.process is not None

    def play(self, midi: Path, wav: Path | None = None) -> None:
        self.stop()
        process = QProcess(self)
        process.finished.connect(lambda code, _status, p=process: self._finished(p, code))
        process.errorOccurred.connect(lambda _error, p=process: self._finished(p, -1))
        self.process = process
        process.start(self.program, self.arguments(midi, wav))
        self.playingChanged.emit(True)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.waitForFinished(2000)
            self.playingChanged.emit(False)

    def _finished(self, process: QProcess, code: int) -> None:
        if process is not self.process:
            return
        self.process = None
        if code != 0:
            error = bytes(process.readAllStandardError()).decode(errors="replace").strip().splitlines()
            self.failed.emit(f"FluidSynth stopped: {error[-1] if error else process.errorString()}")
        self.playingChanged.emit(False)
