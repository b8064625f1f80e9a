"""Fuzzing every command that reads a file with hostile files (tests/fuzz_inputs.py): each
is read, or refused with one line naming it, never a traceback, and never at more memory
than a bound.

Most examples call the engine's readers in this process, the memory each allocates traced
(tracemalloc sees NumPy's arrays too); a few run the real commands as processes of their
own, measured with wait4. bench/fuzz_files.py runs the same strategies far longer.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from bytes2beats.cli import main
from bytes2beats.engine.dataset import (
    Phrases,
    PhraseSpec,
    build_phrases,
    load_phrase_pack,
    save_phrase_pack,
)
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.file_limits import MAX_BEATS, MAX_EVENTS, MAX_NOTES, MAX_ROLL_BYTES
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.model import ModelFileError
from bytes2beats.engine.model_store import shipped_models_dir
from bytes2beats.engine.music_io import MusicFileError, read_chord_markers, read_music
from bytes2beats.engine.pianoroll import Multitrack
from bytes2beats.engine.progression import ChordError, chords_from_midi
from fuzz_inputs import (
    LPD_SONG,
    absurd_midi,
    controller_events,
    garbled_npy_header,
    lpd_bomb,
    lpd_song_files,
    many_instruments,
    midi_files,
    model_files,
    note,
    npz_bytes,
    pack_bomb,
    phrase_pack_files,
    program_changes,
    read_npz_members,
    run_measured,
    safetensors_bytes,
    safetensors_parts,
    smf,
)
from hypothesis import HealthCheck, given, settings

FIXTURES = Path(__file__).parent / "fixtures"
ROCK = FIXTURES / "lpd" / "rock"
MODEL = shipped_models_dir() / "rock.safetensors"
# What one read may allocate in this process: with the ~300 MB that Python, NumPy and torch
# take, a command stays under the 1 GiB its process is held to below.
READ_BOUND = 600 * 2**20
PROCESS_BOUND_MB = 1024
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def traced(call):
    """(what `call()` returned or raised, the most memory it had allocated at once)."""
    tracemalloc.start()
    try:
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 (the callers check what it is)
            result = error
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_read_or_refused(path: Path, result, peak: int, refusal=MusicFileError) -> None:
    """A reader's outcome: what it read, or its one-line refusal naming the file; within bound."""
    if isinstance(result, Exception):
        assert isinstance(result, refusal), f"{type(result).__name__}: {result}"
        message = str(result)
        assert str(path) in message and "\n" not in message and len(message) < 400, message
    if isinstance(result, Multitrack):
        assert result.rolls.nbytes <= MAX_ROLL_BYTES
        assert result.n_steps <= (MAX_BEATS + 4) * result.steps_per_beat
    assert peak < READ_BOUND, f"{peak / 2**20:.0f} MiB allocated reading {path.stat().st_size} bytes"


def check_midi(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    for call, refusal in [(lambda: read_music(path), MusicFileError),  # stream --clip's read
                          (lambda: read_music(path, 4, track_set=5), MusicFileError),  # phrases, train, eval
                          (lambda: read_chord_markers(path), MusicFileError),
                          (lambda: chords_from_midi(path), ChordError)]:  # generate --chords-from
        assert_read_or_refused(path, *traced(call), refusal=refusal)


# ---------------------------------------------------------------------------------------
# Files read in this process


@FAST
@given(data=midi_files())
def test_a_garbled_midi_file_is_read_or_refused_in_one_line(tmp_path, data):
    check_midi(tmp_path / "song.mid", data)


@SLOW
@given(data=absurd_midi())
def test_a_midi_file_that_claims_too_much_costs_little(tmp_path, data):
    check_midi(tmp_path / "song.mid", data)


def too_many_notes() -> bytes:
    """More notes than a song may have, in fewer events than the limit: note-ons alone."""
    return smf([note(0, 0, 60) * (MAX_NOTES + 1)])


@pytest.mark.parametrize("make, message", [
    (lambda: many_instruments(2000), "more than 256 instruments"),  # the 22 KB file
    (lambda: program_changes(3_150_000), "more than 256 instruments"),  # the 11 MB file
    (lambda: controller_events(MAX_EVENTS + 10), f"more than {MAX_EVENTS:,} events"),
    (too_many_notes, f"more than {MAX_NOTES:,} notes"),
    (lambda: smf([note(0, 0, 60) * 40_000 + note(1, 0, 60, on=False) * 40_000]), None),  # overlapping, FIFO
], ids=["instruments", "program changes", "events", "notes", "overlapping notes"])
def test_the_limits_refuse_before_anything_big_is_made(tmp_path, make, message):
    """Each limit on its own (the memory the refused files take is measured on the real
    commands below: tracemalloc would slow a million events' reading tenfold)."""
    path = tmp_path / "song.mid"
    path.write_bytes(make())
    try:
        song = read_music(path, 4, track_set=5)
    except MusicFileError as error:
        assert message and message in str(error) and str(error).startswith(str(path)), error
    else:
        assert message is None and song.rolls.any()


@pytest.mark.parametrize("events, outcome", [
    (b"\x00\xff\x51\x03\x00\x00\x00", "a tempo of 0"),  # was a ZeroDivisionError's traceback
    (b"\x00\xff\x58\x02\x04\x02", "a damaged time signature"),
    (b"\x00\xff\x59\x02\xf9\x07", None),  # a key mido cannot decode (a traceback before): not needed
], ids=["tempo 0", "short meter", "odd key"])
def test_odd_meta_events_are_refused_or_passed_over(tmp_path, events, outcome):
    """And a chunk of another kind before the track (Yamaha's XF files have them) is skipped."""
    path = tmp_path / "song.mid"
    data = smf([events + note(0, 0, 60) + note(480, 0, 60, on=False)])
    path.write_bytes(data[:14] + b"XFIH\x00\x00\x00\x02ok" + data[14:])
    try:
        song = read_music(path, 4)
    except MusicFileError as error:
        assert outcome and outcome in str(error), error
    else:
        assert outcome is None and song.notes(0) == [(0, 4, 60, 100)]


@pytest.mark.parametrize("header", ["{'descr': '|u1', 'fortran_order': False, 'shape': (3,",  # tokenize's error
                                    "{'descr': '|u1'\x00}", "[1, 2]", "{'descr': 'O', 'fortran_order': False, "
                                    "'shape': (1,)}"])
def test_an_array_header_that_is_no_header_is_one_line(real_pack, tmp_path, header):
    """Found by bench/fuzz_files.py: NumPy's header parser raised tokenize's TokenError."""
    song, pack = tmp_path / "song.npz", tmp_path / "x.phrases.npz"
    members = read_npz_members(LPD_SONG)
    song.write_bytes(npz_bytes({**members, "tempo": garbled_npy_header(header)}))
    pack.write_bytes(npz_bytes({**read_npz_members(real_pack), "bits": garbled_npy_header(header)}))
    for path, read in [(song, read_music), (pack, load_phrase_pack)]:
        with pytest.raises(MusicFileError) as refused:
            read(path)
        assert str(refused.value).startswith(f"{path}: ") and "\n" not in str(refused.value)


@FAST
@given(data=lpd_song_files())
def test_a_damaged_lpd_song_is_read_or_refused_in_one_line(tmp_path, data):
    path = tmp_path / "song.npz"
    path.write_bytes(data)
    assert_read_or_refused(path, *traced(lambda: read_music(path)))
    assert_read_or_refused(path, *traced(lambda: read_music(path, 4, track_set=17)))


@pytest.fixture(scope="module")
def real_pack(tmp_path_factory) -> Path:
    """A phrase pack of the fixtures' rock songs, as `bytes2beats phrases` writes it."""
    folder = tmp_path_factory.mktemp("pack")
    phrases = build_phrases(ROCK, PhraseSpec(), workers=1)
    return save_phrase_pack(phrases, PhraseSpec(), folder / "rock.phrases.npz")


def test_a_damaged_phrase_pack_is_loaded_or_refused_in_one_line(real_pack, tmp_path):
    @FAST
    @given(data=phrase_pack_files(real_pack))
    def check(data):
        path = tmp_path / "bad.phrases.npz"
        path.write_bytes(data)
        result, peak = traced(lambda: load_phrase_pack(path))
        assert_read_or_refused(path, result, peak)
        if not isinstance(result, Exception):
            phrases, spec = result
            assert isinstance(phrases, Phrases) and phrases.rolls.shape == (
                len(phrases.song), len(family_tracks(spec.track_set)), spec.n_steps, spec.n_pitches)
            phrases.split(validation=False)  # what train does first: every index in range

    check()


def test_a_damaged_model_file_is_loaded_or_refused_in_one_line(tmp_path):
    """Not traced: building a network under tracemalloc is ten times slower, and a model's
    cost is bounded by its config's rules (tests/test_hostile_files.py) and measured below."""
    @settings(FAST, max_examples=20)
    @given(data=model_files(MODEL))
    def check(data):
        path = tmp_path / "bad.safetensors"
        path.write_bytes(data)
        try:
            composer = Composer.load(path, "cpu")
        except (ModelFileError, ValueError, FileNotFoundError) as error:  # what the commands say in one line
            assert str(path) in str(error) and "\n" not in str(error), error
        else:  # a file it loads must make clips
            assert len(composer.generate(seed=1)) == 1

    check()


def test_a_null_decoding_entry_is_no_entry(tmp_path):
    """Found by the fuzzing: "threshold": null passed the checks as no threshold, then
    generating called float(None), a traceback."""
    header, weights = safetensors_parts(MODEL)
    header["__metadata__"].update(threshold="null", hold_ratio="null")
    path = tmp_path / "nulls.safetensors"
    path.write_bytes(safetensors_bytes(header, weights))
    composer = Composer.load(path, "cpu")
    assert composer.default_threshold == composer.config.threshold and len(composer.generate(seed=1)) == 1


# ---------------------------------------------------------------------------------------
# The commands, each in a process of its own


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """The issue's files: 2,000 instruments in 22 KB, 11 MB of program changes, a 1 MB LPD
    song and a 1 MB phrase pack that inflate to 1.5 GiB, and a model file cut in half."""
    folder = tmp_path_factory.mktemp("hostile")
    songs = folder / "songs"
    songs.mkdir()
    (songs / "instruments.mid").write_bytes(many_instruments(2000))
    (songs / "programs.mid").write_bytes(program_changes(3_150_000))
    (songs / "controllers.mid").write_bytes(controller_events(MAX_EVENTS + 10))
    (songs / "notes.mid").write_bytes(too_many_notes())
    (songs / "bomb.npz").write_bytes(lpd_bomb(3 * 2**29))
    (folder / "bomb.phrases.npz").write_bytes(pack_bomb(3 * 2**29))
    (folder / "half.safetensors").write_bytes(MODEL.read_bytes()[: MODEL.stat().st_size // 2])
    return folder


def assert_one_line(code: int, stderr: str, peak_mb: float, command: str, names: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith(f"bytes2beats {command}: ")]
    others = [line for line in stderr.splitlines() if line.strip() and line not in errors
              and not line.startswith(("reading songs under", "reading the phrase pack"))]
    assert code == 1 and len(errors) == 1 and not others and "Traceback" not in stderr, stderr
    assert names in errors[0], errors[0]
    assert peak_mb < PROCESS_BOUND_MB, f"{command}: peak {peak_mb:.0f} MiB"
    return errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("command, args, names", [
    ("phrases", ["--data", "{songs}", "--out", "{out}/x.phrases.npz"], "instruments.mid"),
    ("train", ["--data", "{hostile}/bomb.phrases.npz", "--out", "{out}/m.safetensors", "--epochs", "1",
               "--steps-per-epoch", "1", "--device", "cpu"], "bomb.phrases.npz: its phrases inflate"),
    ("generate", ["--chords-from", "{songs}/instruments.mid", "--out", "{out}/x.mid"], "instruments.mid"),
    ("generate", ["--model", "{hostile}/half.safetensors", "--out", "{out}/x.mid"], "half.safetensors"),
    ("eval", ["--model", "{hostile}/half.safetensors", "--data", str(ROCK), "--samples", "8"], "half.safetensors"),
    ("stream", ["--clip", "{songs}/programs.mid", "--bars", "2"], "programs.mid: more than 256 instruments"),
], ids=["phrases", "train-pack", "generate-chords-from", "generate-model", "eval-model", "stream-clip"])
def test_a_command_given_hostile_files_says_one_line_within_a_gigabyte(hostile, tmp_path, command, args, names):
    out = tmp_path / "out"
    out.mkdir()
    filled = [a.format(songs=hostile / "songs", hostile=hostile, out=out) for a in args]
    code, stderr, peak_mb, _ = run_measured([command, *filled])
    line = assert_one_line(code, stderr, peak_mb, command, names)
    assert list(out.iterdir()) == [], line  # nothing written, not even in part
    if command == "phrases":  # every file rejected, each for its own reason
        assert all(reason in line for reason in ["2 files, as instruments.mid: more than 256 instruments",
                                                 "bomb.npz: it unzips to 1,536 MiB",
                                                 "controllers.mid: more than 1,000,000 events"]), line


@pytest.mark.slow
def test_generate_writes_as_it_goes_and_its_memory_does_not_grow_with_count(tmp_path):
    """`generate --count 1000000` grew past 4 GB before writing its first file: now the
    clips are written batch by batch. Stopped in the third batch (130 files)."""
    out = tmp_path / "clips"
    code, stderr, peak_mb, seconds = run_measured(
        ["generate", "--count", "1000000", "--out", str(out), "--device", "cpu"], limit=240, folder=out, count=130)
    files = sorted(out.iterdir())
    assert code == 130 and stderr.strip().splitlines()[-1] == "bytes2beats generate: interrupted", stderr
    assert len(files) >= 130 and not [f for f in files if f.suffix != ".mid"], files[-3:]  # no part file left
    assert peak_mb < PROCESS_BOUND_MB, f"peak {peak_mb:.0f} MiB after {len(files)} files"


def test_clips_made_as_they_go_are_the_clips_made_all_at_once():
    """iter_probabilities runs the same batches of phrases as one list of all the ideas did
    (the generator's numbers depend on the batch), so a seed's clip does not change."""
    composer = Composer.load(MODEL, "cpu")
    ideas = [composer.new_idea(seed, bars=12) for seed in range(30)]  # 90 phrases: batches of 64 and 26
    made = [probs for _, probs in composer.iter_probabilities(iter(ideas))]
    rows = [np.concatenate([getattr(i, name) for i in ideas]) for name in ("z_shared", "z_tracks")]
    genres = np.concatenate([np.full(i.n_phrases, i.genre or 0) for i in ideas])
    manners = np.zeros((90, composer.config.n_tracks, 4), dtype=np.float32)  # not a manner model: unread
    all_at_once = np.concatenate([composer._run_generator((rows[0][s : s + 64], rows[1][s : s + 64],
                                                           genres[s : s + 64], manners[s : s + 64]))
                                  for s in range(0, 90, 64)])
    for k, probs in enumerate(made):
        assert np.array_equal(probs, composer._full_pitch_range(all_at_once[3 * k : 3 * k + 3]))


# ---------------------------------------------------------------------------------------
# Output paths


def one_error_line(capsys, argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith(f"bytes2beats {argv[0]}: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_generate_refuses_outputs_that_are_no_plain_files_before_any_work(tmp_path, capsys):
    folder = tmp_path / "a folder.mid"
    folder.mkdir()
    (folder / "kept.txt").write_text("mine")
    pipe = tmp_path / "pipe.mid"
    os.mkfifo(pipe)
    link = tmp_path / "link.mid"
    link.symlink_to(pipe)
    cases = [(folder, "not a plain file (a folder)"), (pipe, "not a plain file (a pipe)"),
             (link, f"{pipe}: not a plain file (a pipe)"), (tmp_path / "missing" / "x.mid", "does not exist")]
    for out, message in cases:
        line = one_error_line(capsys, ["generate", "--model", str(MODEL), "--out", str(out)])
        assert message in line, line
    assert [p.name for p in folder.iterdir()] == ["kept.txt"] and pipe.is_fifo() and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a folder.mid", "link.mid", "pipe.mid"]  # no part files
    line = one_error_line(capsys, ["generate", "--model", str(MODEL), "--out", str(tmp_path / "x.mid"),
                                   "--image", str(folder)])
    assert "--image must end in .png" in line and not (tmp_path / "x.mid").exists()
    line = one_error_line(capsys, ["generate", "--model", str(MODEL), "--out", str(tmp_path / "x.mid"),
                                   "--image", str(tmp_path / "missing" / "x.png")])
    assert "does not exist" in line and not (tmp_path / "x.mid").exists()


def test_generate_replaces_a_file_whole_keeping_its_permissions_and_writes_through_a_link(tmp_path, capsys):
    old = tmp_path / "clip.mid"
    old.write_bytes(b"an older clip")
    old.chmod(0o600)
    link = tmp_path / "latest.mid"
    link.symlink_to(old)
    assert main(["generate", "--model", str(MODEL), "--out", str(link), "--image", str(tmp_path / "roll.png")]) == 0
    assert link.is_symlink() and old.read_bytes().startswith(b"MThd") and (old.stat().st_mode & 0o777) == 0o600
    assert read_music(old).rolls.any() and (tmp_path / "roll.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mid", "latest.mid", "roll.png"]
    capsys.readouterr()
    line = one_error_line(capsys, ["generate", "--model", str(MODEL), "--count", "2", "--out", str(old)])
    assert "cannot make folder" in line and old.read_bytes().startswith(b"MThd")


def test_phrases_refuses_an_output_it_cannot_write_before_reading_a_song(tmp_path, capsys):
    folder = tmp_path / "a folder.phrases.npz"
    folder.mkdir()
    for out, message in [(folder, "not a plain file (a folder)"),
                         (tmp_path / "missing" / "x.phrases.npz", "does not exist")]:
        line = one_error_line(capsys, ["phrases", "--data", str(ROCK), "--out", str(out),
                                       "--cache-dir", str(tmp_path / "cache")])
        assert message in line, line
    assert not (tmp_path / "cache").exists()  # refused before any song was read
    line = one_error_line(capsys, ["phrases", "--data", str(ROCK), "--out", str(tmp_path / "x.phrases.npz"),
                                   "--steps-per-beat", "0"])
    assert "--steps-per-beat must be one of" in line


def test_an_interrupted_pack_write_leaves_the_old_pack_whole(real_pack, tmp_path, monkeypatch):
    pack = tmp_path / "rock.phrases.npz"
    pack.write_bytes(real_pack.read_bytes())
    phrases, spec = load_phrase_pack(pack)

    def interrupted(file, **arrays):
        file.write(b"PK\x03\x04 half a pack")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_phrase_pack(phrases, spec, pack)
    assert pack.read_bytes() == real_pack.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["rock.phrases.npz"]  # no part file


# -- checkpoints and numeric flags --------------------------------------------------------------

CHECKPOINT = Path(__file__).parents[1] / "checkpoints" / "genres-chords.pt"


def test_a_damaged_checkpoint_is_read_or_refused_in_one_line(tmp_path):
    """Bytes of a real checkpoint cut, flipped or spliced (`mutated`): read_checkpoint, what
    --resume and --warm-start use, loads it whole and checked, or refuses it in one line."""
    from bytes2beats.engine.train import read_checkpoint
    from fuzz_inputs import mutated

    real = CHECKPOINT.read_bytes()

    @settings(SLOW, max_examples=10)
    @given(data=mutated(real))
    def check(data):
        path = tmp_path / "bad.pt"
        path.write_bytes(data)
        try:
            state = read_checkpoint(path)
        except ValueError as error:
            assert str(path) in str(error) and "\n" not in str(error), error
        else:
            assert state["format"] and state["epoch"] >= 0

    check()


ABSURD = {  # flag -> values no run can use
    "--batch-size": ["0", "-3", "nan"], "--n-critic": ["0", "-1"], "--steps-per-beat": ["0", "5", "-12"],
    "--bars-per-phrase": ["0", "33", "-4"], "--width": ["0", "513", "-1"], "--epochs": ["0", "-2"],
    "--g-lr": ["nan", "-1e-4", "inf", "0"], "--d-lr": ["nan", "-0.1", "inf"], "--gp-lambda": ["nan", "-1", "inf"],
    "--checkpoint-every": ["0", "-1"], "--sample-every": ["0", "-5"], "--transpose": ["-1", "13"],
}


def test_absurd_training_flags_are_refused_in_one_line_before_any_work(tmp_path, capsys):
    from hypothesis import strategies as st

    flags = st.sampled_from(sorted(ABSURD)).flatmap(lambda flag: st.tuples(st.just(flag), st.sampled_from(ABSURD[flag])))

    @settings(FAST, max_examples=30)
    @given(bad=flags)
    def check(bad):
        out = tmp_path / "never.safetensors"
        try:
            code = main(["train", "--data", str(ROCK), "--out", str(out), "--epochs", "1", bad[0], bad[1]])
        except SystemExit as parse_error:  # argparse: its usage, then one line naming the flag
            code = parse_error.code
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert code != 0 and "Traceback" not in err, (bad, err)
        assert bad[0] in lines[-1] and (code == 2 or len(lines) == 1), (bad, err)
        assert not out.exists() and not (tmp_path / "never-run").exists()

    check()
