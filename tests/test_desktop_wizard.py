"""The training wizard, driven with qtbot: real songs, the real engine, real training processes.

Offscreen Qt (conftest). Each test has its own models folder (BYTES2BEATS_USER_MODELS) and
phrase cache; any training process a test leaves running is cancelled at its end. Set
BYTES2BEATS_SCREENSHOTS=docs/screenshots to save a picture of each page on the way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from bytes2beats.desktop.training_wizard import FINISH, SCAN, SETTINGS, TRAINING, TrainingWizard
from bytes2beats.desktop.wizard_plan import (
    CPU_SECONDS_PER_STEP,
    check_model_name,
    draft_model_name,
    format_duration,
    seconds_per_step,
)
from bytes2beats.desktop.wizard_training_page import why_it_stopped
from bytes2beats.engine.dataset import PhraseSpec
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.run_request import FINE_TUNE_CRITIC_STEPS
from bytes2beats.engine.train import read_checkpoint
from bytes2beats.engine.training_job import find_jobs
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

FIXTURES = Path(__file__).parent / "fixtures"
SCREENSHOTS = os.environ.get("BYTES2BEATS_SCREENSHOTS")
TRAINING_TIMEOUT_MS = 180_000  # a tiny run takes seconds; the machine may be busy with others


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("BYTES2BEATS_USER_MODELS", str(folder))
    yield folder
    for job in find_jobs(folder):
        if job.is_alive():
            job.cancel(wait=5)


def song_folder(tmp_path: Path, *groups: tuple[str, list[Path]]) -> Path:
    data = tmp_path / "songs"
    data.mkdir()
    for sub, files in groups:
        (data / sub).mkdir(exist_ok=True)
        for f in files:
            shutil.copy(f, data / sub / f.name)
    return data


def open_wizard(qtbot, tmp_path: Path, **options) -> TrainingWizard:
    wizard = TrainingWizard(cache_dir=tmp_path / "cache", **options)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def screenshot(wizard: TrainingWizard, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        wizard.grab().save(str(Path(SCREENSHOTS) / f"wizard-{name}.png"))


def click(qtbot, wizard: TrainingWizard, which: QWizard.WizardButton) -> None:
    qtbot.mouseClick(wizard.button(which), Qt.MouseButton.LeftButton)


def scan(qtbot, wizard: TrainingWizard, folder: Path, genres: bool = True, shots: bool = False,
         fine_tune: bool = False) -> None:
    """Choose the folder and read it: returns when the scan has found phrases or failed.
    From scratch (tiny networks train in seconds), unless `fine_tune` (the default start)."""
    wizard.data_page.folder_edit.setText(str(folder))
    wizard.data_page.genres_box.setChecked(genres)
    if not fine_tune:
        wizard.data_page.start.setCurrentIndex(wizard.data_page.start.findData(None))
    if shots:
        screenshot(wizard, "1-data")
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == SCAN
    page = wizard.scan_page
    qtbot.waitUntil(lambda: page.isComplete() or page.error.isVisible(), timeout=60_000)


def start_tiny_fine_tuning(qtbot, wizard: TrainingWizard, batch: int) -> None:
    """On the settings page of a fine-tuning run: one epoch of two critic steps, then Start."""
    settings = wizard.settings_page
    settings.batch.setValue(batch)
    settings.epochs.setValue(1)
    settings.steps_cap.setValue(2)
    settings.n_critic.setValue(2)
    settings.device.setCurrentIndex(settings.device.findData("cpu"))
    click(qtbot, wizard, QWizard.WizardButton.CommitButton)
    assert wizard.currentId() == TRAINING, settings.error.text()


def start_training(qtbot, wizard: TrainingWizard, epochs: int, shots: bool = False) -> None:
    """Tiny settings on the settings page, then Start training."""
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == SETTINGS
    page = wizard.settings_page
    page.width.setValue(8)
    page.batch.setValue(8)
    page.epochs.setValue(epochs)
    page.steps_cap.setValue(2)
    page.n_critic.setValue(5)  # more than an epoch's steps: refused, with the reason
    click(qtbot, wizard, QWizard.WizardButton.CommitButton)
    assert wizard.currentId() == SETTINGS and "the generator would never learn" in page.error.text()
    page.n_critic.setValue(2)  # a generator step at the end of each 2-step epoch
    page.device.setCurrentIndex(page.device.findData("cpu"))
    assert "Estimated time on this CPU" in page.estimate.text()
    if shots:
        screenshot(wizard, "3-settings")
    click(qtbot, wizard, QWizard.WizardButton.CommitButton)
    assert wizard.currentId() == TRAINING, page.error.text()
    assert wizard.job is not None and wizard.job.folder.parent == wizard.plan.models_dir


def test_the_wizard_trains_a_model_from_a_folder_of_songs(qtbot, tmp_path, models):
    data = song_folder(tmp_path, ("pop", sorted((FIXTURES / "pop909").glob("*.mid"))[:2]),
                       ("pop", [FIXTURES / "bad" / "corrupt-header.mid"]),
                       ("rock", sorted((FIXTURES / "lpd" / "rock").glob("*.npz"))))
    wizard = open_wizard(qtbot, tmp_path)
    scan(qtbot, wizard, data, shots=True)

    page = wizard.scan_page
    report = wizard.plan.scan.phrases.report
    assert report["files_found"] == 7
    rows = {page.rejected.topLevelItem(i).text(0): page.rejected.topLevelItem(i).text(1)
            for i in range(page.rejected.topLevelItemCount())}
    assert rows["pop/corrupt-header.mid"].startswith("not a readable MIDI file")
    # POP909 songs are piano alone: beside full-band LPD songs they have too few instruments.
    assert "instruments playing" in rows["pop/001.mid"]
    assert "7</b> music files found" in page.summary.text() and "One sub-folder only (rock)" in page.summary.text()
    assert page.preview_grid.count() == 2 * 3  # three real phrases, each with its caption
    screenshot(wizard, "2-scan")

    start_training(qtbot, wizard, epochs=2, shots=True)
    training = wizard.training_page
    qtbot.waitUntil(lambda: training.state in ("finished", "stopped"), timeout=TRAINING_TIMEOUT_MS)
    assert training.state == "finished", training.message.text()
    assert len(training.epochs) == 4  # 2 epochs x 2 steps, each a point of the curves
    assert training.points["g_loss"][0] == [2, 4]  # a generator step ends each 2-step epoch
    assert training.samples.play_button.isEnabled() and "epoch 2" in training.samples.caption.text()
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    screenshot(wizard, "4-training-done")

    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == FINISH
    finish = wizard.finish_page
    qtbot.waitUntil(lambda: finish.call is None, timeout=120_000)
    table = finish.table.toPlainText()
    assert table.startswith("metric") and "generated" in table and "novelty" in table
    assert "\ncopying: " in table  # the copy check's sentence, in the table and above it
    assert finish.copying.text().startswith("Does it copy your songs? ")
    assert finish.name.text() == "songs"  # the data folder's name, until changed
    screenshot(wizard, "5-finish")

    finish.name.setText("my songs")  # a space: refused, with a reason
    assert finish.error.isVisible() and "letters, digits" in finish.error.text()
    finish.name.setText("my-songs")
    with qtbot.waitSignal(wizard.model_ready, timeout=5000) as ready:
        click(qtbot, wizard, QWizard.WizardButton.FinishButton)
    path = Path(ready.args[0])
    assert path == models / "my-songs.safetensors" and path.exists()
    assert not (models / "songs.safetensors").exists()
    assert [job.folder.name for job in find_jobs(models)] == ["my-songs-run"]
    assert find_jobs(models)[0].state() == "finished"
    composer = Composer.load(path, "cpu")
    assert composer.config.genres == []  # pop had no usable song: one genre, so no conditioning
    assert len(composer.generate(seed=1)[0].tracks) == 5



def test_the_wizard_adapts_the_shipped_model_to_a_folder_by_default(qtbot, tmp_path, models):
    data = song_folder(tmp_path, (".", sorted((FIXTURES / "lpd" / "rock").glob("*.npz"))))  # no genre folders
    wizard = open_wizard(qtbot, tmp_path)
    page = wizard.data_page
    assert page.start.currentText().startswith("The shipped model “genres”: adapt it")  # the default
    assert page.start.itemData(page.start.count() - 1) is None  # from scratch stays a choice
    # Adapting keeps the model's own phrases: 5 families, 4 bars, 12 steps a beat.
    assert page.phrase_spec() == PhraseSpec(5, 12, 4) and not page.resolution.isEnabled()
    page.start.setCurrentIndex(page.start.findData(None))
    assert page.resolution.isEnabled() and page.phrase_spec() == PhraseSpec(5, 4, 4)
    assert not page.like.isEnabled()  # a model from scratch has no genres to start from
    page.start.setCurrentIndex(0)
    assert page.like.currentData() is None and page.like.findData("rock") > 0
    assert page.like.currentText().startswith("the genre they sound most like")  # the shipped model chooses
    page.like.setCurrentIndex(page.like.findData("rock"))  # "Your songs sound most like: rock"
    scan(qtbot, wizard, data, fine_tune=True, shots=True)
    assert wizard.plan.fine_tune.name == "genres" and wizard.plan.scan.spec.steps_per_beat == 12
    assert wizard.plan.like == "rock"

    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    settings = wizard.settings_page
    # 73 phrases: batches of 14, so that each epoch has its 5 critic steps and a generator step
    assert settings.batch.value() == wizard.plan.scan.training_phrases // 5 == 14
    steps = wizard.plan.scan.training_phrases // settings.batch.value()
    assert settings.epochs.value() == -(-FINE_TUNE_CRITIC_STEPS // steps)  # 150 critic steps
    own_rate = Composer.load("genres", "cpu").meta["trained"]["train_config"]["g_lr"]
    assert settings.g_lr.value() == pytest.approx(own_rate / 4, abs=1e-6)  # a quarter of the model's own
    assert settings.width.value() == 32 and not settings.width.isEnabled()
    assert "Adapting “genres”" in settings.subTitle()
    screenshot(wizard, "3-settings-fine-tune")
    start_tiny_fine_tuning(qtbot, wizard, batch=8)
    training = wizard.training_page
    qtbot.waitUntil(lambda: training.state in ("finished", "stopped"), timeout=TRAINING_TIMEOUT_MS)
    assert training.state == "finished", training.message.text()
    assert "fine-tuning the model genres" in wizard.job.paths.output.read_text()

    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    finish = wizard.finish_page
    qtbot.waitUntil(lambda: finish.call is None, timeout=120_000)
    assert finish.copying.text().startswith("Does it copy your songs? ")
    with qtbot.waitSignal(wizard.model_ready, timeout=5000) as ready:
        click(qtbot, wizard, QWizard.WizardButton.FinishButton)
    composer = Composer.load(ready.args[0], "cpu")
    # The folder is a genre of its own beside the six the model knew, and the model's default.
    assert composer.config.genres == ["country", "electronic", "jazz", "metal", "pop", "rock", "songs"]
    assert composer.meta["default_genre"] == "songs" and composer.meta["trained"]["decoding_from"] == "genres"
    assert composer.meta["trained"]["started_from"]["like"] == "rock"
    shipped = Composer.load("genres", "cpu").meta
    assert composer.meta["track_scales"]["songs"] == shipped["track_scales"]["rock"]  # rock's decoding, to start
    assert len(composer.generate(seed=1, genre="songs")[0].tracks) == 5
    # It carries its critic: the next wizard offers to adapt it further.
    again = open_wizard(qtbot, tmp_path)
    offered = [again.data_page.start.itemData(i) for i in range(again.data_page.start.count())]
    assert [start.name for start in offered if start and start.source == "user"] == ["songs"]


def test_the_wizard_grows_the_shipped_model_into_seventeen_families(qtbot, tmp_path, models):
    data = song_folder(tmp_path, ("rock", sorted((FIXTURES / "lpd" / "rock").glob("*.npz"))))
    wizard = open_wizard(qtbot, tmp_path)
    page = wizard.data_page
    # Adapting the five-family model keeps its bars and resolution, and may grow its families.
    assert page.tracks.isEnabled() and not page.bars.isEnabled() and not page.resolution.isEnabled()
    page.tracks.setCurrentIndex(page.tracks.findData(17))
    assert page.phrase_spec() == PhraseSpec(17, 12, 4) and "grow its five into seventeen" in page.phrase_note.text()
    scan(qtbot, wizard, data, fine_tune=True)
    assert wizard.plan.scan.spec.track_set == 17
    assert wizard.plan.scan.phrases.rolls.shape[1] == 17  # the phrases that train, cut into the 17 families
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    start_tiny_fine_tuning(qtbot, wizard, batch=4)
    training = wizard.training_page
    # fitting the decoding of 17 families takes a while after the two steps: three times five's
    qtbot.waitUntil(lambda: training.state in ("finished", "stopped"), timeout=3 * TRAINING_TIMEOUT_MS)
    assert training.state == "finished", training.message.text()
    assert "growing genres's 5 families into 17" in wizard.job.paths.output.read_text()
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    finish = wizard.finish_page
    qtbot.waitUntil(lambda: finish.call is None, timeout=120_000)
    with qtbot.waitSignal(wizard.model_ready, timeout=5000) as ready:
        click(qtbot, wizard, QWizard.WizardButton.FinishButton)
    composer = Composer.load(ready.args[0], "cpu")
    assert composer.config.track_set == 17 and len(composer.meta["track_scales"]["rock"]) == 17
    assert [t.name for t in composer.config.tracks][11:13] == ["Synth Lead", "Synth Pad"]


def test_names_times_and_reasons(tmp_path, models):
    models.mkdir()
    (models / "songs.safetensors").write_bytes(b"")
    (models / "songs-2-run").mkdir()
    assert draft_model_name(tmp_path / "songs", models) == "songs-3"
    assert draft_model_name(tmp_path / "My Songs!", models) == "My-Songs"
    assert check_model_name("songs", models) == "A model named 'songs' already exists: choose another name."
    assert check_model_name("songs", models, current="songs") is None
    assert check_model_name("", models) and check_model_name("a b", models)
    assert [format_duration(s) for s in (5, 600, 7500, 200_000)] == ["5 s", "10 min", "2 h 05 min", "2 days 7 h"]
    assert seconds_per_step(32, 32) == pytest.approx(CPU_SECONDS_PER_STEP)
    assert why_it_stopped("bytes2beats train: could not write checkpoint x (No space)").endswith(
        "Is the disk full? Free some space, then resume.")
    assert why_it_stopped("epoch 3/100 [###...] D +1.0").startswith("the training process ended unexpectedly")
    assert why_it_stopped("RuntimeError: boom") == "the training process crashed: RuntimeError: boom"

@pytest.mark.slow
def test_training_pauses_cancels_survives_a_kill_and_a_closed_window(qtbot, tmp_path, models):
    data = song_folder(tmp_path, ("pop", sorted((FIXTURES / "pop909").glob("*.mid"))))
    wizard = open_wizard(qtbot, tmp_path)
    scan(qtbot, wizard, data, genres=False)
    assert wizard.plan.scan.phrases.report["files_used"] == 3  # piano songs alone: all used
    start_training(qtbot, wizard, epochs=1000)
    page, job = wizard.training_page, wizard.job
    qtbot.waitUntil(lambda: job.checkpoint.exists() and len(page.epochs) >= 6, timeout=TRAINING_TIMEOUT_MS)
    assert page.state == "running" and "Epoch" in page.status.text() and "left" in page.status.text()
    screenshot(wizard, "4-training")

    page.pause_button.click()
    assert job.state() == "paused" and page.continue_button.isVisible() and not page.pause_button.isVisible()
    page.continue_button.click()
    assert job.state() == "running" and page.pause_button.isVisible()

    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.state == "cancelled", timeout=30_000)
    kept = read_checkpoint(job.checkpoint)["epoch"]
    assert page.resume_button.isVisible() and f"checkpoint (epoch {kept}) is kept" in page.message.text()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()

    page.resume_button.click()
    qtbot.waitUntil(lambda: page.state == "running", timeout=10_000)
    qtbot.waitUntil(lambda: read_checkpoint(job.checkpoint)["epoch"] > kept, timeout=TRAINING_TIMEOUT_MS)

    os.kill(wizard.job.pid, signal.SIGKILL)  # a crash, as the wizard sees one
    qtbot.waitUntil(lambda: page.state == "stopped", timeout=30_000)
    assert page.message.text().startswith("Training stopped: the training process ended unexpectedly")
    assert page.resume_button.isVisible()
    screenshot(wizard, "4-training-stopped")
    page.resume_button.click()
    qtbot.waitUntil(lambda: page.state == "running", timeout=10_000)

    click(qtbot, wizard, QWizard.WizardButton.CancelButton)  # "Close": the process goes on
    assert not wizard.isVisible() and not page.timer.isActive()
    (running,) = find_jobs(models)
    assert running.is_alive() and running.state() == "running"

    again = open_wizard(qtbot, tmp_path, job=running)  # as the main window's status bar would
    assert again.currentId() == TRAINING
    qtbot.waitUntil(lambda: len(again.training_page.epochs) > len(page.epochs), timeout=30_000)
    again.training_page.cancel_button.click()
    qtbot.waitUntil(lambda: again.training_page.state == "cancelled", timeout=30_000)
    assert not running.is_alive()


@pytest.mark.slow
def test_the_phrases_scanned_are_the_phrases_trained_and_the_status_bar_finds_a_closed_wizards_run(
        qtbot, tmp_path, models, monkeypatch):
    from bytes2beats.desktop.main_window import MainWindow
    from PySide6.QtCore import QSettings, QStandardPaths

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # the wizard's default phrase cache
    QStandardPaths.setTestModeEnabled(True)
    win = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                     model="genres", device="cpu", generate_on_load=False)
    qtbot.addWidget(win)
    win.show()
    assert not win.status.training.isVisible()  # no run of the user's yet
    win.commands["train"].trigger()
    wizard = win.wizard
    data = song_folder(tmp_path, ("rock", sorted((FIXTURES / "lpd" / "rock").glob("*.npz"))))
    scan(qtbot, wizard, data, genres=False)
    four_bars = wizard.plan.scan.training_phrases
    assert "phrases of 4 bars" in wizard.scan_page.summary.text()

    # The user goes back and asks for 2-bar phrases: the folder is read again, cut as asked.
    click(qtbot, wizard, QWizard.WizardButton.BackButton)
    wizard.data_page.bars.setValue(2)
    screenshot(wizard, "1-data-phrases")
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    qtbot.waitUntil(lambda: wizard.scan_page.isComplete(), timeout=60_000)
    two_bars = wizard.plan.scan.training_phrases
    assert "phrases of 2 bars" in wizard.scan_page.summary.text()
    assert f"{two_bars} to train on" in wizard.scan_page.summary.text() and two_bars > 1.5 * four_bars

    start_training(qtbot, wizard, epochs=1000)
    job = wizard.job
    assert job.request.bars_per_phrase == 2
    output = job.paths.output
    qtbot.waitUntil(lambda: output.exists() and "training phrases" in output.read_text(), timeout=60_000)
    assert f" {two_bars} training phrases" in output.read_text()  # what the scan showed is what trains

    click(qtbot, wizard, QWizard.WizardButton.CancelButton)  # "Close": the run goes on without it
    assert not wizard.isVisible()
    button = win.status.training
    qtbot.waitUntil(lambda: button.isVisible() and "epoch" in button.text(), timeout=30_000)
    assert button.text().startswith("Training “songs”: epoch ")  # the model is named after the folder
    screenshot(win, "6-status-bar")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    again = win.wizard
    assert again is not wizard and again.isVisible() and again.currentId() == TRAINING
    assert again.job.folder == job.folder
    qtbot.waitUntil(lambda: len(again.training_page.epochs) > 0, timeout=30_000)
    again.training_page.cancel_button.click()
    qtbot.waitUntil(lambda: again.training_page.state == "cancelled", timeout=30_000)
    button.refresh()
    assert not button.isVisible()  # a run the user cancelled asks nothing more of them
    again.close()
    win.close()


def bad_folder(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / kind
    folder.mkdir()
    if kind == "no-midi":
        (folder / "notes.txt").write_text("not music")
        (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    elif kind == "unreadable":
        for f in (FIXTURES / "bad").glob("*.mid"):
            shutil.copy(f, folder)
    return folder


@pytest.mark.parametrize("kind, message", [
    ("empty", "This folder is empty"),
    ("no-midi", "No MIDI (.mid) or LPD (.npz) files here: the folder holds 2 other file(s)"),
    ("unreadable", "None of the 9 music files can be used: each is listed below with its reason."),
])
def test_a_folder_without_usable_songs_gets_a_clear_message(qtbot, tmp_path, models, kind, message):
    wizard = open_wizard(qtbot, tmp_path)
    scan(qtbot, wizard, bad_folder(tmp_path, kind))
    page = wizard.scan_page
    assert page.error.isVisible() and page.error.text().startswith(message)
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    if kind == "unreadable":  # every file listed with its own reason
        reasons = {page.rejected.topLevelItem(i).text(0): page.rejected.topLevelItem(i).text(1)
                   for i in range(page.rejected.topLevelItemCount())}
        assert len(reasons) == 9
        assert reasons["three-four.mid"] == "not in 4/4 (time signature 3/4)"
        assert reasons["not-midi.mid"].startswith("not a readable MIDI file")
        screenshot(wizard, "2-scan-unreadable")
    click(qtbot, wizard, QWizard.WizardButton.BackButton)  # back to choose another folder
    assert wizard.currentId() == 0


def test_a_folder_that_does_not_exist_is_refused_on_the_first_page(qtbot, tmp_path, models):
    wizard = open_wizard(qtbot, tmp_path)
    wizard.data_page.folder_edit.setText(str(tmp_path / "nowhere"))
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == 0
    assert "is not a folder" in wizard.data_page.error.text()


def test_a_disk_that_fills_during_a_checkpoint_is_shown_and_the_last_checkpoint_kept(
        qtbot, tmp_path, monkeypatch):
    import torch
    from bytes2beats.engine.dataset import PhraseSpec, build_phrases
    from bytes2beats.engine.model import ModelConfig
    from bytes2beats.engine.train import RunPaths, TrainConfig, Trainer

    data = song_folder(tmp_path, ("rock", sorted((FIXTURES / "lpd" / "rock").glob("*.npz"))))
    # A checkpoint of the tiny model, to size a disk with room for one, not for a second beside it.
    phrases = build_phrases(data, PhraseSpec(), cache_dir=tmp_path / "cache", workers=1)
    probe = Trainer(ModelConfig(g_width=8, d_width=8), TrainConfig(batch_size=8, steps_per_epoch=2, n_critic=2),
                    phrases, RunPaths.for_model(tmp_path / "probe" / "m.safetensors"), torch.device("cpu"),
                    lambda s: None)
    probe.run_epoch()  # both optimizers stepped: their state is in the checkpoint too
    probe.save_checkpoint()
    kib = (probe.paths.checkpoint.stat().st_size * 3 // 2) // 1024 + 96  # + samples, logs
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    monkeypatch.setenv("BYTES2BEATS_USER_MODELS", str(disk))
    try:
        wizard = open_wizard(qtbot, tmp_path)
        scan(qtbot, wizard, data, genres=False)
        start_training(qtbot, wizard, epochs=3)
        page = wizard.training_page
        qtbot.waitUntil(lambda: page.state in ("stopped", "finished"), timeout=TRAINING_TIMEOUT_MS)
        assert page.state == "stopped"
        text = page.message.text()
        assert "could not write checkpoint" in text and "the previous one is kept" in text
        assert "Is the disk full?" in text
        assert "last checkpoint (epoch 1) is kept" in text
        assert read_checkpoint(wizard.job.checkpoint)["epoch"] == 1
        assert not list(wizard.job.folder.glob("*.part"))
        screenshot(wizard, "4-training-disk-full")
        wizard.close()
    finally:
        for job in find_jobs(disk):
            if job.is_alive():
                job.cancel(wait=5)
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.jack
def test_a_sample_plays_on_the_midi_port_and_stops_with_all_notes_off(qtbot, tmp_path, models, jack_server):
    import rtmidi
    from bytes2beats.desktop.wizard_sample_view import SAMPLE_PORT_NAME

    data = song_folder(tmp_path, ("rock", sorted((FIXTURES / "lpd" / "rock").glob("*.npz"))))
    wizard = open_wizard(qtbot, tmp_path)
    scan(qtbot, wizard, data, genres=False)
    start_training(qtbot, wizard, epochs=1)
    page = wizard.training_page
    qtbot.waitUntil(lambda: page.state == "finished", timeout=TRAINING_TIMEOUT_MS)

    # A real JACK MIDI input, connected to the wizard's port once that is open.
    listener = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "wizard test")
    received: list[list[int]] = []

    def take() -> list[list[int]]:
        while (message := listener.get_message()) is not None:
            received.append(message[0])
        return received

    page.samples.play_button.click()
    qtbot.waitUntil(lambda: any(SAMPLE_PORT_NAME in p for p in listener.get_ports()), timeout=10_000)
    listener.open_port(next(i for i, p in enumerate(listener.get_ports()) if SAMPLE_PORT_NAME in p))
    qtbot.waitUntil(lambda: any(m[0] & 0xF0 == 0x90 and m[2] > 0 for m in take()), timeout=10_000)
    assert page.samples.play_button.text() == "Stop"

    page.samples.play_button.click()
    assert page.samples.session is None and page.samples.play_button.text() == "Play on MIDI port"
    qtbot.waitUntil(lambda: any(m[0] & 0xF0 == 0xB0 and m[1] == 123 for m in take()), timeout=5000)
    listener.close_port()
    wizard.close()
