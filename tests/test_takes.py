"""The best of several takes (engine/takes.py): the judge's trees kept as arrays score as
scikit-learn's do, `calibrate --takes-only` fits a judge per genre into the model file, and
generate, stream, eval and the window keep the take the judge finds most like the songs, the
first take's arrangement kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.model import ModelConfig, ModelFileError, load_model, save_model
from bytes2beats.engine.model_store import DEFAULT_MODEL, resolve_model
from bytes2beats.engine.takes import (
    ARRANGEMENT_COST,
    TreeEnsemble,
    arrangement_change,
    bars_playing,
    take_seeds,
)
from bytes2beats.engine.two_sample import model_phrase_features, phrase_features

LPD = Path(__file__).parent / "fixtures" / "lpd"


@pytest.fixture(scope="module")
def cfg():
    return ModelConfig(genres=["pop", "rock"], g_width=8, d_width=8)


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory):
    """The shipped model's generator and decoding, without its take judges (an untrained
    network plays the same notes whatever its noise: nothing to choose between)."""
    generator, meta = load_model(resolve_model(DEFAULT_MODEL))
    meta.pop("takes", None)
    return save_model(generator, tmp_path_factory.mktemp("plain") / "plain.safetensors", meta)


@pytest.fixture(scope="module")
def judged_model(tmp_path_factory, plain_model):
    """The same model with take judges fitted by `calibrate --takes-only` on the fixture songs."""
    out = tmp_path_factory.mktemp("judged") / "judged.safetensors"
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", str(plain_model), "--data",
                          str(LPD), "--takes-only", "--samples", "24", "--default-takes", "4", "--out", str(out),
                          "--cache-dir", str(tmp_path_factory.mktemp("cache"))],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-800:]
    assert "take judges for pop, rock; 4 takes by default" in run.stdout
    return out


def real_features(cfg, tmp_path) -> np.ndarray:
    phrases = build_phrases(LPD, PhraseSpec.of_model(cfg), cache_dir=tmp_path / "cache", workers=1)
    rolls = np.asarray(phrases.rolls[np.arange(len(phrases.genre))])
    return phrase_features(rolls, [t.name for t in cfg.tracks], 4, cfg.steps_per_beat, cfg.lowest_pitch)[0]


def test_the_trees_kept_as_arrays_score_as_scikit_learn_does(cfg, tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = real_features(cfg, tmp_path)  # real phrases' features, NaN where a track is silent
    assert np.isnan(x).any()
    rng = np.random.default_rng(0)
    other = x + rng.normal(0, 0.3, x.shape) * np.nanstd(x, axis=0)  # a second set, a little apart
    both = np.concatenate([x, other])
    y = np.repeat([0, 1], len(x))
    columns = np.flatnonzero(~np.isnan(both).all(axis=0))
    classifier = HistGradientBoostingClassifier(random_state=0, min_samples_leaf=5).fit(both[:, columns], y)
    trees = TreeEnsemble.from_sklearn(classifier, columns)
    assert np.allclose(trees.decision(both), classifier.decision_function(both[:, columns]), atol=1e-9)
    kept = TreeEnsemble.from_tensors(trees.tensors(), both.shape[1])  # as a model file holds them
    assert np.allclose(kept.decision(both), classifier.decision_function(both[:, columns]), atol=1e-4)

    damaged = trees.tensors()
    inner = np.flatnonzero(~trees.leaf)[0]
    damaged["left"][inner] = inner  # a loop: a walk that would never reach a leaf
    with pytest.raises(ValueError, match="damaged"):
        TreeEnsemble.from_tensors(damaged, both.shape[1])


def test_a_takes_arrangement_is_the_bars_each_part_plays_in():
    phrases = np.zeros((2, 3, 4 * 48, 84), dtype=bool)  # two phrases of four 48-step bars, three tracks
    phrases[0, 0, 10:12, 40] = True  # bar 1
    phrases[0, 0, 150, 41] = True  # bar 4
    phrases[0, 2, 47:49, 30] = True  # a note held over the bar line sounds in bars 1 and 2
    phrases[1, 1] = True
    playing = bars_playing(phrases, 4)
    assert playing.tolist() == [[2, 0, 2], [0, 4, 0]]
    assert arrangement_change(playing, playing) == 0
    rested = playing.copy()
    rested[0, 2] = 0  # the third part silent in the first phrase: two bars rested otherwise
    assert arrangement_change(rested, playing) == 1.0  # a phrase's mean


def test_takes_decoded_together_are_each_as_decoded_alone(plain_model):
    # best_of decodes a clip's takes in one call: each take's notes must be the ones a decode
    # of it alone gives, its manners (the shipped model is a manner model) included.
    composer = Composer.load(plain_model, "cpu")
    cfg = composer.config
    assert cfg.manners
    ideas = [composer.new_idea(seed, 8, "rock") for seed in take_seeds(5, 3)]
    together = list(composer._decoded_takes(ideas, "rock"))
    for idea, (_, probs), notes in zip(ideas, composer.iter_probabilities(ideas), together, strict=True):
        alone = composer.decode(probs[:, :, cfg.lowest_pitch : cfg.lowest_pitch + cfg.n_pitches], None, "rock",
                                manners=idea.manners)
        assert alone.any() and np.array_equal(notes, alone)


def test_calibrate_fits_a_judge_per_genre_and_generation_keeps_the_best_take(judged_model, plain_model):
    composer = Composer.load(judged_model, "cpu")
    assert set(composer.take_judges) == {"pop", "rock"} and composer.default_takes == 4  # the songs' genres
    assert Composer.load(plain_model, "cpu").default_takes == 1
    # the decoding is kept, and with it what was measured on its phrases (the genre lean)
    assert load_model(judged_model)[1]["genre_lean"] == load_model(plain_model)[1]["genre_lean"]
    one = composer.best_idea(5, 1, genre="rock")
    assert one.seed == 5 and np.array_equal(one.z_shared, composer.new_idea(5, genre="rock").z_shared)

    best = composer.best_idea(5, 4, genre="rock")
    judge, cfg = composer.take_judge("rock"), composer.config
    scores, playing = [], []
    for seed in take_seeds(5, 4):  # each take scored on its own, as a clip of it plays
        idea = composer.new_idea(seed, genre="rock")
        clip = composer.generate(seed, genre="rock")[0]
        rolls = (clip.rolls[:, :, cfg.lowest_pitch : cfg.lowest_pitch + cfg.n_pitches] > 0)[None]
        scores.append(float(judge.score(rolls, model_phrase_features(cfg, rolls)[0])[0]))
        # the bars each track plays in, counted from the clip's notes
        playing.append(rolls[0].reshape(cfg.n_tracks, cfg.n_bars, -1).any(2).sum(1))
        assert idea.seed == seed
    assert len(set(scores)) > 1  # the judge tells the takes apart
    # less what a take changes of the first take's arrangement: a bar a part plays or rests in otherwise
    kept = [score - ARRANGEMENT_COST * np.abs(bars - playing[0]).sum() for score, bars in zip(scores, playing)]
    assert best.seed == take_seeds(5, 4)[int(np.argmax(kept))]
    assert composer.generate(5, genre="rock", takes=4)[0].name.endswith("seed5")  # named by the seed asked for


def test_generate_stream_and_eval_take_the_models_number_of_takes(judged_model, plain_model, tmp_path, cli_in_process):
    from bytes2beats.engine.live import ModelStream

    composer = Composer.load(judged_model, "cpu")
    stream = ModelStream(composer, seed=3, genre="pop", variation=0.5, takes=3)
    first, second = stream.next_phrase(), stream.next_phrase()
    assert first.clip.rolls.any() and second.clip.rolls.shape == first.clip.rolls.shape

    # a seed whose first take is not the one kept: there, 4 takes (the model's default) make another clip
    seed = next(s for s in range(50) if composer.best_idea(s, 4, genre="pop").seed != s)
    code, out, err = cli_in_process("generate", "--model", judged_model, "--genre", "pop", "--seed", seed,
                                    "--out", tmp_path / "a.mid")
    assert code == 0, err
    code, out, err = cli_in_process("generate", "--model", judged_model, "--genre", "pop", "--seed", seed,
                                    "--takes", "1", "--out", tmp_path / "b.mid")
    assert code == 0, err
    assert (tmp_path / "a.mid").read_bytes() != (tmp_path / "b.mid").read_bytes()

    code, _, err = cli_in_process("generate", "--model", plain_model, "--takes", "4", "--out", tmp_path / "c.mid")
    assert code != 0 and "has no take judge" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli_in_process("generate", "--model", judged_model, "--takes", "0", "--out", tmp_path / "c.mid")
    assert code != 0 and "takes must be 1 to 64, not 0" in err
    assert not (tmp_path / "c.mid").exists()


def test_eval_says_how_many_takes_it_measured(judged_model):
    from bytes2beats.engine.evaluate import evaluate, format_table

    result = evaluate(Composer.load(judged_model, "cpu"), LPD, samples=6, genre="rock", novelty_samples=6,
                      classifier=False, takes=2)
    assert result["takes"] == 2
    assert "each phrase the best of 2 takes" in format_table(result)


def test_a_models_damaged_takes_entry_is_one_line(judged_model, tmp_path):
    generator, meta = load_model(judged_model)
    for entry, said in (({"genres": ["polka"], "default": 4}, "does not name this model's genres"),
                        ({"genres": ["pop", "rock"], "default": 500}, "default is not a number of takes")):
        path = save_model(generator, tmp_path / "bad.safetensors", {**meta, "takes": entry})
        with pytest.raises(ModelFileError, match=said):
            Composer.load(path, "cpu")
    path = save_model(generator, tmp_path / "lost.safetensors", meta)  # the entry, but not the judges' tensors
    with pytest.raises(ModelFileError, match="take judge for pop is missing"):
        Composer.load(path, "cpu")


def test_recalibrating_the_decoding_drops_the_judges_it_outdates(judged_model, tmp_path):
    model = tmp_path / "again.safetensors"
    model.write_bytes(Path(judged_model).read_bytes())
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", str(model), "--data", str(LPD),
                          "--register-only", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-800:]
    assert "fit them again with `calibrate --takes-only`" in run.stdout
    composer = Composer.load(model, "cpu")
    assert composer.take_judges == {} and composer.default_takes == 1


def test_the_default_takes_change_alone_keeping_the_judges_and_weights(cli_in_process, judged_model, plain_model,
                                                                       tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "sixteen.safetensors"
    code, said, err = cli_in_process("calibrate", "--model", str(judged_model), "--default-takes", "16",
                                     "--out", str(out))
    assert code == 0, err
    assert "16 takes by default (was 4); its take judges kept" in said
    before, after = load_file(str(judged_model)), load_file(str(out))
    assert before.keys() == after.keys()  # generator, critic and judges alike, unrefitted
    assert all(np.array_equal(before[key].numpy(), after[key].numpy()) for key in before)
    composer = Composer.load(out, "cpu")
    assert composer.default_takes == 16 and set(composer.take_judges) == {"pop", "rock"}
    assert composer.meta["takes"]["genres"] == Composer.load(judged_model, "cpu").meta["takes"]["genres"]
    # Each wrong way gets one line and writes nothing.
    for args, said in ((["--model", str(judged_model), "--default-takes", "0"], "must be 1 to"),
                       (["--model", str(plain_model), "--default-takes", "8"], "has no take judges"),
                       (["--model", str(judged_model), "--default-takes", "8", "--data", str(LPD)], "needs no --data"),
                       (["--model", str(judged_model), "--default-takes", "8", "--register-only"], "goes with"),
                       (["--model", str(judged_model), "--register-only", "--takes-only"], "not several"),
                       (["--model", str(judged_model)], "needs --data")):
        bad = tmp_path / "bad.safetensors"
        code, _, err = cli_in_process("calibrate", *args, "--out", str(bad))
        assert code == 1 and err.count("\n") == 1 and said in err, err
        assert not bad.exists()
    # Judges fitted again keep the file's own default (a file judged for the first time gets 16).
    again = tmp_path / "again.safetensors"
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", str(judged_model), "--data",
                          str(LPD),
                          "--takes-only", "--samples", "24", "--out", str(again), "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-800:]
    assert "4 takes by default" in run.stdout and Composer.load(again, "cpu").default_takes == 4


def test_the_window_makes_the_models_number_of_takes_and_the_takes_menu_changes_it(qtbot, tmp_path, judged_model,
                                                                                    plain_model):
    from bytes2beats.desktop.main_window import MainWindow
    from PySide6.QtCore import QSettings, Qt

    def window(model):
        win = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                         model=str(model), device="cpu", generate_on_load=False)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.composer is not None, timeout=90_000)
        return win

    def generate(win, seed):
        with qtbot.waitSignal(win.document.clipChanged, timeout=90_000):
            win.generate_seed(seed)
        qtbot.waitUntil(lambda: not win.worker.busy)
        return win.document.state

    win = window(judged_model)
    menu = win.takes_menu
    texts = [a.text() for a in menu.actions()]
    assert texts[0] == "The model's choice (4)" and "Best of 16" in texts and all(a.isEnabled() for a in menu.actions())
    win.toolbar.genre.setCurrentText("pop")
    state = generate(win, 8)
    assert state.label == "seed 8, best of 4 takes"
    assert state.idea.seed == Composer.load(judged_model, "cpu").best_idea(8, 4, 8, "pop").seed
    # the seed box shows the seed asked for, so that Enter makes the same clip again
    assert win.toolbar.seed.value() == 8
    kept = next(s for s in range(8, 40) if generate(win, s).idea.seed != s)  # a seed whose first take is not kept
    assert win.toolbar.seed.value() == kept and win.document.state.label == f"seed {kept}, best of 4 takes"
    again = win.document.state.idea.seed
    with qtbot.waitSignal(win.document.clipChanged, timeout=90_000):  # Enter in the seed box, as a user does
        qtbot.keyClick(win.toolbar.seed.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not win.worker.busy)
    assert win.document.state.idea.seed == again
    menu.actions_by_choice[1].trigger()  # Clip > Takes > One take
    assert generate(win, 8).label == "seed 8" and win.document.state.idea.seed == 8
    win.worker.wait(30_000)

    plain = window(plain_model)  # a model without judges makes one take, whatever was chosen
    plain.takes_menu.actions_by_choice[16].trigger()
    assert not plain.takes_menu.actions_by_choice[16].isEnabled() and plain.takes_menu.takes() == 1
    assert generate(plain, 8).label == "seed 8"
    plain.worker.wait(30_000)
