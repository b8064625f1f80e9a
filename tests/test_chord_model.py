"""Chord conditioning: extraction, the model's chord inputs, training on real songs with their
chords, and the chord-fit metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bytes2beats.engine.chords import (
    Chord,
    chord_features,
    extract_chords,
    per_beat,
    phrases_chord_features,
    phrases_chords,
)
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import bass_on_chord_root, bass_root_counts, chord_tone_share
from bytes2beats.engine.model import ChordFit, Critic, Generator, ModelConfig, load_model
from bytes2beats.engine.train import (
    RunPaths,
    TrainConfig,
    Trainer,
    finish,
    transpose_batch,
    transpose_chords,
)

LPD = Path(__file__).parent / "fixtures" / "lpd"
TRACKS = family_tracks(5)  # Drums, Piano, Guitar, Bass, Strings
LOW = 24  # the models' lowest pitch, C1


def _phrase(chords: list[tuple[list[int], int | None]], steps_per_beat: int = 4, beats_per_chord: int = 2):
    """A 4-bar phrase (5, steps, 84): per segment of `beats_per_chord` beats, piano holds
    `pitches` and the bass holds `bass`."""
    steps = 16 * steps_per_beat
    x = np.zeros((5, steps, 84), dtype=bool)
    seg = beats_per_chord * steps_per_beat
    for k, (pitches, bass) in enumerate(chords):
        for p in pitches:
            x[1, k * seg : (k + 1) * seg, p - LOW] = True
        if bass is not None:
            x[3, k * seg : (k + 1) * seg, bass - LOW] = True
        x[0, k * seg, 36 - LOW] = True  # a kick: drums never count
    return x


def test_the_extractor_names_hand_made_chords_with_their_inversions():
    C, Am, F, G7 = [60, 64, 67], [57, 60, 64], [53, 57, 60], [55, 59, 62, 65]
    phrase = _phrase([(C, 36), (C, 40), (Am, 45), (F, 41), (G7, 43), ([], None), (Am, None), (C, 36)])
    names = [c.name if c else "N" for c in extract_chords(phrase, TRACKS, LOW, 4)]
    assert names == ["C", "C/E", "Am", "F", "G7", "N", "Am", "C"]
    # many phrases at once give the same answer per phrase
    both = extract_chords(np.stack([phrase, phrase]), TRACKS, LOW, 4)
    assert [[c.name if c else "N" for c in row] for row in both] == [names, names]


def test_chord_names_round_trip_and_transpose():
    for name in ["C", "F#m7", "Bb/D", "Ebmaj7", "Bm7b5", "Gsus4", "Caug", "Bdim"]:
        assert Chord.from_name(name).name == name
    assert Chord.from_name("Am").transposed(3).name == "Cm"
    assert Chord.from_name("C/E").transposed(-1).name == "B/Eb"
    with pytest.raises(KeyError):
        Chord.from_name("Hmaj9")


def test_chord_features_and_their_transposition_agree_with_the_chords():
    am_f = per_beat([Chord.from_name("Am"), Chord.from_name("F/A")], 4)
    f = chord_features(am_f)
    assert f.shape == (4, 24)
    assert set(np.flatnonzero(f[0, :12])) == {9, 0, 4} and np.flatnonzero(f[0, 12:]).tolist() == [9]
    assert set(np.flatnonzero(f[2, :12])) == {5, 9, 0} and np.flatnonzero(f[2, 12:]).tolist() == [9]
    up = chord_features([c.transposed(2) for c in am_f])
    # the trainer moves the chords with the notes
    torch_up = transpose_chords(torch.as_tensor(f[None]), torch.tensor([2]))[0].numpy()
    assert np.array_equal(torch_up, up)


def test_chords_move_with_the_notes_under_transposition_augmentation():
    phrase = _phrase([([60, 64, 67], 36)] * 8)
    x = torch.as_tensor(phrase[None]).float()
    moved = transpose_batch(x, torch.tensor([2]))[0].numpy() > 0
    assert extract_chords(moved, TRACKS, LOW, 4)[0].name == "D"
    f = torch.as_tensor(chord_features([Chord.from_name("C")] * 16)[None])
    assert np.array_equal(transpose_chords(f, torch.tensor([2]))[0].numpy(), chord_features([Chord.from_name("D")] * 16))


def test_a_chord_generator_starts_as_the_one_without_chords_and_then_reads_them():
    torch.manual_seed(0)
    plain_cfg = ModelConfig(g_width=8, d_width=8)
    chord_cfg = ModelConfig(g_width=8, d_width=8, chords=True)
    plain, chordal = Generator(plain_cfg).eval(), Generator(chord_cfg).eval()
    missing, unexpected = chordal.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("chord_") for k in missing)
    z, zt = torch.randn(2, 64), torch.randn(2, 5, 32)
    chords = torch.as_tensor(np.stack([chord_features([Chord.from_name("Am")] * 16)] * 2))
    assert torch.allclose(plain(z, zt), chordal(z, zt, None, chords))  # the inputs start at zero
    torch.nn.init.normal_(chordal.chord_to_octaves.weight)
    assert not torch.allclose(chordal(z, zt, None, chords), chordal(z, zt, None, torch.zeros_like(chords)))


def test_the_critics_chord_view_reads_each_tracks_pitch_classes_per_beat():
    cfg = ModelConfig(g_width=8, d_width=8, chords=True)
    view = ChordFit(cfg, 16)
    phrase = _phrase([([60, 64, 67], 36)] * 8)
    profiles = view.profiles(torch.as_tensor(phrase[None]).float())  # (1, beats, 4 pitched tracks * 12)
    piano = profiles[0, 0, :12]
    assert set(torch.nonzero(piano).flatten().tolist()) == {0, 4, 7}
    assert piano.sum().item() == pytest.approx(12 / 13)  # 3 pitches x 4 steps, over their sum plus one
    critic = Critic(cfg).eval()
    chords = torch.as_tensor(chord_features([Chord.from_name("C")] * 16)[None])
    score = critic(torch.as_tensor(phrase[None]).float(), None, chords)
    assert score.shape == (1,)


@pytest.fixture(scope="module")
def phrases(tmp_path_factory):
    return build_phrases(LPD, PhraseSpec(), cache_dir=tmp_path_factory.mktemp("cache"), workers=1)


def test_the_chords_of_phrases_are_cached_whole_and_read_back(phrases, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cfg = ModelConfig(g_width=8, d_width=8, chords=True)
    chords = phrases_chords(phrases, cfg)
    written = list((tmp_path / "xdg").rglob("*"))
    caches = [p for p in written if p.name.startswith("chords-")]
    assert len(caches) == 1 and caches[0].suffix == ".json"
    assert not [p for p in written if p.name.endswith(".part")]  # written beside, then renamed
    monkeypatch.setattr("bytes2beats.engine.chords.extract_chords", None)  # a second run reads the cache
    assert phrases_chords(phrases, cfg) == chords


def test_a_short_real_run_with_chords_warm_starts_trains_and_follows_given_chords(phrases, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # the chord cache goes here
    genres = phrases.genres
    plain = Trainer(ModelConfig(g_width=8, d_width=8, genres=genres), TrainConfig(epochs=1, batch_size=8, steps_per_epoch=2),
                    phrases, RunPaths.for_model(tmp_path / "plain.safetensors"), torch.device("cpu"), log=lambda s: None)
    plain.save_checkpoint()
    cfg = ModelConfig(g_width=8, d_width=8, genres=genres, chords=True)
    tcfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=3, n_critic=2, transpose=6, sample_every=1)
    trainer = Trainer(cfg, tcfg, phrases, RunPaths.for_model(tmp_path / "m.safetensors"), torch.device("cpu"),
                      log=lambda s: None)
    trainer.warm_start(plain.paths.checkpoint)
    # each phrase's chords were extracted from its own notes
    assert trainer.chords.shape == (len(phrases), 16, 24)
    assert np.array_equal(trainer.chords.numpy(), phrases_chord_features(phrases, cfg))
    assert trainer.fit(show_progress=False)
    assert trainer.critic.chord_score.weight.abs().sum() > 0  # the chord view has started to learn
    path = finish(trainer, phrases, "fixtures")
    generator, meta = load_model(path)
    assert generator.cfg.chords and set(meta["progressions"]) == set(genres)
    assert all(Chord.from_name(n) for p in meta["progressions"]["rock"] for n in p.split() if n != "N")
    from bytes2beats.engine.progression import parse_key

    assert isinstance(meta["home_keys"], list) and all(parse_key(name) for name in meta["home_keys"])  # measured
    composer = Composer(generator, meta, "m")
    given = per_beat([Chord.from_name(n) for n in "Am F C G".split()], 16)
    clip = composer.generate(seed=1, bars=8, genre="rock", chords=given)[0]
    assert [c.name for c in clip.chords[::4]] == ["Am", "F", "C", "G"] * 2
    drawn = composer.generate(seed=1, bars=4, genre="rock")[0]
    assert drawn.chords is not None and len(drawn.chords) == 16
    with pytest.raises(ValueError, match="does not take chords"):
        Composer(Generator(ModelConfig(g_width=8, d_width=8)), {}, "plain").new_idea(0, chords=given)


def test_a_warm_start_gives_each_track_and_octave_its_own_chord_offsets_starting_where_they_were(phrases, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # the chord cache goes here
    torch.manual_seed(0)
    shared_cfg = ModelConfig(g_width=8, d_width=8, genres=phrases.genres, chords=True)
    shared = Trainer(shared_cfg, TrainConfig(epochs=1), phrases, RunPaths.for_model(tmp_path / "a.safetensors"),
                     torch.device("cpu"), log=lambda s: None)
    for layer in (shared.generator.chord_to_beats, shared.generator.chord_to_octaves):
        torch.nn.init.normal_(layer.weight)
        torch.nn.init.normal_(layer.bias)
    shared.save_checkpoint()
    register_cfg = ModelConfig(g_width=8, d_width=8, genres=phrases.genres, chords=True, chord_register=True)
    registered = Trainer(register_cfg, TrainConfig(epochs=1), phrases, RunPaths.for_model(tmp_path / "b.safetensors"),
                         torch.device("cpu"), log=lambda s: None)
    registered.warm_start(shared.paths.checkpoint)
    assert registered.generator.chord_to_octaves.out_features == 5 * 16 * 7  # tracks x 2w x octaves
    z, zt, genre = torch.randn(2, 64), torch.randn(2, 5, 32), torch.tensor([0, 1])
    chords = torch.as_tensor(np.stack([chord_features([Chord.from_name("Am")] * 16)] * 2))
    a, b = shared.generator.eval(), registered.generator.eval()
    with torch.no_grad():
        assert torch.allclose(a(z, zt, genre, chords), b(z, zt, genre, chords), atol=1e-6)
        # the bass's lowest octave alone moves: only its notes change
        bass, octave, w2 = 3, 0, 16
        rows = [(bass * w2 + c) * 7 + octave for c in range(w2)]
        b.chord_to_octaves.bias[rows] += 5.0
        changed = (a(z, zt, genre, chords) - b(z, zt, genre, chords)).abs().amax(dim=(0, 2, 3))
    assert changed[bass] > 0 and torch.all(changed[[0, 1, 2, 4]] == 0)


def test_chord_tone_share_and_bass_on_root_measure_what_sounds():
    C, F = [60, 64, 67], [53, 57, 60]
    phrase = _phrase([(C, 36), (C, 36), (F, 41), (F, 43)] * 2)[None]
    given = [Chord.from_name(n) for n in ["C"] * 4 + ["F"] * 4] * 2
    features = chord_features(given)[None]
    assert chord_tone_share(phrase, features, [1, 2, 3, 4], LOW, 4) == pytest.approx(1 - 16 / 256)  # the G under F, twice
    assert bass_on_chord_root(phrase, [given], 3, LOW, 4) == pytest.approx(1.0)  # F's bar starts on F
    wrong = [Chord.from_name(n) for n in ["D"] * 16]
    assert chord_tone_share(phrase, chord_features(wrong)[None], [1, 2, 3, 4], LOW, 4) < 0.3
    assert bass_on_chord_root(phrase, [wrong], 3, LOW, 4) == 0.0
    # per phrase: C's bar and F's bar, twice; with the D phrase beside it, its four spans all miss
    hits, spans = bass_root_counts(np.concatenate([phrase, phrase]), [given, wrong], 3, LOW, 4)
    assert hits.tolist() == [4, 0] and spans.tolist() == [4, 4]


def test_the_chord_fit_term_pulls_up_to_the_songs_fit_and_with_match_down_to_it_too():
    from bytes2beats.engine.train import chord_fit_loss

    steps_per_beat, lowest = 4, 24  # C1: pitch index 0 is a C
    chords = torch.zeros(1, 1, 24)
    chords[0, 0, [0, 4, 7]] = 1  # C major
    chords[0, 0, 12] = 1  # its bass note C

    def bass_phrase(on_root_steps: int) -> torch.Tensor:
        x = torch.zeros(1, 2, steps_per_beat, 24)  # tracks: drums, bass
        x[0, 1, :on_root_steps, 12] = 1  # C2
        x[0, 1, on_root_steps:, 14] = 1  # D2, a passing note
        return x

    real = bass_phrase(2)  # half the beat on the root
    rooted = bass_phrase(4).requires_grad_(True)  # the whole beat
    args = (chords, [1], 1, lowest, steps_per_beat)
    assert chord_fit_loss(rooted, real, *args).item() == 0  # a hinge: past the songs' fit is free
    matched = chord_fit_loss(rooted, real, *args, match=True)
    assert matched.item() == pytest.approx(1.0, abs=1e-3)  # (1 - 0.5) on the tones, the same on the bass note
    matched.backward()
    assert rooted.grad[0, 1, :, 12].sum() > 0  # descending it lowers the root's share
    assert chord_fit_loss(bass_phrase(2), real, *args, match=True).item() == pytest.approx(0, abs=1e-3)
    assert chord_fit_loss(bass_phrase(1), real, *args).item() == pytest.approx(0.5, abs=1e-3)
    # bass-match: past the songs' fit, the bass note's share alone is pulled back (the tones stay a hinge)
    bass_matched = chord_fit_loss(rooted, real, *args, match_bass=True)
    assert bass_matched.item() == pytest.approx(0.5, abs=1e-3)


def test_chord_bass_dropout_shows_chords_in_root_position(phrases, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cfg = ModelConfig(g_width=8, d_width=8, genres=phrases.genres, chords=True)
    as_extracted = phrases_chord_features(phrases, cfg)
    rooted = phrases_chord_features(phrases, cfg, root_position=True)
    assert np.array_equal(rooted[..., :12], as_extracted[..., :12])  # the same chords' tones
    inverted = (rooted[..., 12:] != as_extracted[..., 12:]).any(-1)
    assert inverted.any(), "the fixture songs should hold an inversion (a bass on the third or fifth)"
    # the root position's bass note is one of the chord's tones: its root
    assert (rooted[..., 12:] <= rooted[..., :12]).all()

    def batch_chords(dropout: float) -> np.ndarray:
        tcfg = TrainConfig(epochs=1, batch_size=8, chord_dropout=0.0, chord_bass_dropout=dropout)
        trainer = Trainer(cfg, tcfg, phrases, RunPaths.for_model(tmp_path / f"{dropout}.safetensors"),
                          torch.device("cpu"), log=lambda s: None)
        return trainer._batch(torch.arange(len(phrases)))[2].numpy().astype(bool)

    assert np.array_equal(batch_chords(0.0), as_extracted)
    assert np.array_equal(batch_chords(1.0), rooted)
    torch.manual_seed(0)
    half = batch_chords(0.5)
    shown_rooted = (half == rooted).all(axis=(1, 2)) & inverted.any(1)
    shown_extracted = (half == as_extracted).all(axis=(1, 2)) & inverted.any(1)
    assert shown_rooted.any() and shown_extracted.any()  # each phrase one way or the other
    assert ((half == rooted).all(axis=(1, 2)) | (half == as_extracted).all(axis=(1, 2))).all()
    assert "chord_bass_dropout" in TrainConfig(chord_bass_dropout=1.5).problem()


def test_the_harmony_term_measures_tonal_distance_and_pulls_only_apart_tracks_together(phrases):
    from bytes2beats.engine.metrics import bars_of, tonal_distance
    from bytes2beats.engine.train import harmony_gap, pairwise_tonal_distances

    rolls = np.asarray(phrases.rolls[:16])  # (16, 5, S, 84): real phrases
    steps_per_bar = rolls.shape[2] // 4
    pitched = [1, 2, 3, 4]
    x = torch.as_tensor(rolls, dtype=torch.float32)
    ours = pairwise_tonal_distances(x, pitched, steps_per_bar, LOW).numpy()
    bars = bars_of(rolls, steps_per_bar)
    theirs = [tonal_distance(bars, a, b, LOW) for i, a in enumerate(pitched) for b in pitched[i + 1:]]
    assert np.allclose(ours, np.nan_to_num(theirs), atol=1e-4)  # the measure the issue reports
    assert harmony_gap(x, x, pitched, steps_per_bar, LOW).item() == 0

    # piano on C-E-G and guitar on C-Eb-G (C minor) agree less than both on C major: the term
    # is positive and its gradient moves the guitar's Eb toward the piano's E
    def two_tracks(guitar_third: int) -> torch.Tensor:
        y = torch.zeros(1, 3, 16, 24)  # drums, piano, guitar; one bar of 16 steps; C1-B2
        y[0, 1, :, [12, 16, 19]] = 1
        y[0, 2, :, [12, 12 + guitar_third, 19]] = 1
        return y

    agree, apart = two_tracks(4), two_tracks(3).requires_grad_(True)
    gap = harmony_gap(apart, agree, [1, 2], 16, LOW)
    assert gap.item() > 0.1
    gap.backward()
    assert torch.isfinite(apart.grad).all()
    assert apart.grad[0, 2, :, 16].sum() < apart.grad[0, 2, :, 15].sum()  # descending: more E, less Eb
    assert harmony_gap(agree, apart.detach(), [1, 2], 16, LOW).item() == 0  # a hinge: closer is free
    assert "harmony_loss" in TrainConfig(harmony_loss=-1).problem()


def test_bass_by_root_pulls_each_bass_note_to_the_songs_share():
    from bytes2beats.engine.train import chord_fit_loss

    steps_per_beat, lowest = 4, 24
    chords = torch.zeros(1, 2, 24)
    chords[0, :, :12] = 1  # every pitch class a chord tone: the tones' term stays 0
    chords[0, 0, 12 + 0] = 1  # beat 1's bass note C
    chords[0, 1, 12 + 2] = 1  # beat 2's D

    def bass_line(first: list[int], second: list[int]) -> torch.Tensor:
        x = torch.zeros(1, 2, 2 * steps_per_beat, 24)  # drums, bass
        for step, pitch in enumerate(first + second):
            x[0, 1, step, pitch] = 1
        return x

    real = bass_line([12, 12, 14, 14], [14, 14, 16, 16])  # half of each beat on its bass note
    # all of beat 1 on C, none of beat 2 on D: half over both, as the songs, but not per note
    parted = bass_line([12] * 4, [16] * 4).requires_grad_(True)
    args = (chords, [1], 1, lowest, steps_per_beat)
    assert chord_fit_loss(parted, real, *args, match_bass=True).item() == pytest.approx(0, abs=1e-3)
    by_root = chord_fit_loss(parted, real, *args, bass_by_root=True)
    assert by_root.item() == pytest.approx(0.5, abs=1e-3)  # mean of |0.5 - 1| and |0.5 - 0|
    by_root.backward()
    assert parted.grad[0, 1, :4, 12].sum() > 0  # descending: less C under C
    assert parted.grad[0, 1, 4:, 14].sum() < 0  # and more D under D
    assert chord_fit_loss(real, real, *args, bass_by_root=True).item() == pytest.approx(0, abs=1e-3)


def test_the_bar_fill_term_pulls_each_tracks_share_of_sounding_bars_to_the_songs():
    from bytes2beats.engine.train import bar_fill_gap

    def phrase(sounding_bars: list[int]) -> torch.Tensor:
        x = torch.zeros(1, 2, 4 * 4, 12)  # two tracks, 4 bars of 4 steps
        for bar in sounding_bars:
            x[0, 1, bar * 4, 0] = 1
        x[0, 0, :, 3] = 1  # track 0 sounds in every bar, in both
        return x

    real = phrase([0, 2])  # track 1 rests in half the bars
    full = phrase([0, 1, 2, 3]).requires_grad_(True)
    gap = bar_fill_gap(full, real, 4)
    assert gap.item() == pytest.approx(0.5)  # |0.5 - 1| for track 1, 0 for track 0
    gap.backward()
    assert full.grad[0, 1, 0, 0] > 0  # descending it silences a bar
    sparse = phrase([]).requires_grad_(True)
    gap = bar_fill_gap(sparse, real, 4)
    assert gap.item() == pytest.approx(0.5)
    gap.backward()
    assert (sparse.grad[0, 1] < 0).all()  # an empty bar: every probability pulled up alike
    assert bar_fill_gap(real, real, 4).item() == 0
    assert "bar_fill_loss" in TrainConfig(bar_fill_loss=-1).problem()


def test_the_terms_can_count_notes_as_a_model_file_decodes_them(phrases, tmp_path, monkeypatch):
    from bytes2beats.engine.train import decoded_straight_through, term_decoder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    genres = phrases.genres
    cfg = ModelConfig(g_width=8, d_width=8, genres=genres)
    first = Trainer(cfg, TrainConfig(epochs=1, batch_size=8, steps_per_epoch=2), phrases,
                    RunPaths.for_model(tmp_path / "first.safetensors"), torch.device("cpu"), log=lambda s: None)
    assert first.fit(show_progress=False)
    decoding_file = finish(first, phrases, "fixtures")

    # the notes are the file's decoding of the probabilities (each phrase at its genre's
    # thresholds, its bass a line), and the gradient passes through as it is
    generator = Generator(cfg).train()
    composer = term_decoder(str(decoding_file), generator)
    assert generator.training  # the trained generator is left as it was
    torch.manual_seed(1)
    p = (torch.rand(4, 5, cfg.n_steps, cfg.n_pitches) ** 3).requires_grad_(True)
    genre = torch.tensor([0, 0, 1, 1]) % len(genres)
    notes = decoded_straight_through(composer, p, genre)
    for rows in ([0, 1], [2, 3]):
        name = genres[int(genre[rows[0]])]
        wanted = composer.decode(p[rows].detach().numpy(), genre=name, quantize_strength=0)
        assert np.array_equal(notes[rows].detach().numpy().astype(bool), wanted)
    bass = [t.name for t in cfg.tracks].index("Bass")
    assert notes[:, bass].detach().sum(-1).max() <= 1  # a line, as the user hears it
    assert not np.array_equal(notes.detach().numpy() > 0, p.detach().numpy() >= 0.5)  # not the critic's cut
    notes.sum().backward()
    assert torch.equal(p.grad, torch.ones_like(p))

    # a run counts its terms so, and trains
    tcfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=2, n_critic=1, harmony_loss=1, bar_fill_loss=1,
                       binary_neurons="deterministic", term_decoding=str(decoding_file))
    trainer = Trainer(cfg, tcfg, phrases, RunPaths.for_model(tmp_path / "m.safetensors"), torch.device("cpu"),
                      log=lambda s: None)
    assert trainer.term_composer is not None and trainer.fit(show_progress=False)

    # a file that is no model, or one for other tracks, is one line before any training
    with pytest.raises(ValueError, match="--term-decoding .*nothing.safetensors"):
        term_decoder(str(tmp_path / "nothing.safetensors"), generator)
    other = Generator(ModelConfig(g_width=8, d_width=8, genres=["rock"]))
    with pytest.raises(ValueError, match="other tracks, genres or steps"):
        term_decoder(str(decoding_file), other)


def test_the_harmony_term_through_the_notes_alone_takes_notes_away_and_adds_none():
    from bytes2beats.engine.train import binary_neurons, harmony_gap, through_notes

    # piano on C-E-G, guitar on C-Eb-G over a C major song: the Eb is the disagreeing note
    p = torch.full((1, 3, 16, 24), 0.2)
    p[0, 1, :, [12, 16, 19]] = 0.9
    p[0, 2, :, [12, 15, 19]] = 0.9
    real = (p > 0.5).float()
    real[0, 2, :, 15], real[0, 2, :, 16] = 0, 1
    p.requires_grad_(True)
    notes = binary_neurons(p, "deterministic")
    played = through_notes(notes)
    assert torch.equal(played, notes)
    harmony_gap(played, real, [1, 2], 16, LOW).backward()
    assert p.grad[0, 2, :, 15].sum() > 0  # descending: the Eb played is taken away
    off = (notes.detach() == 0)
    assert (p.grad[off] == 0).all()  # no cell that is silent is pulled up: no E added, no bar filled


def test_train_with_a_term_decoding_that_is_no_model_is_one_line(cli_in_process, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code, out, err = cli_in_process("train", "--data", LPD, "--out", tmp_path / "m.safetensors", "--epochs", "1",
                                    "--term-decoding", tmp_path / "nothing.safetensors")
    assert code == 1
    assert err.strip().splitlines()[-1] == (f"bytes2beats train: --term-decoding {tmp_path / 'nothing.safetensors'}: "
                                           f"model file {tmp_path / 'nothing.safetensors'} does not exist")
    assert "Traceback" not in err and not (tmp_path / "m.safetensors").exists()


def test_the_harmony_term_pulls_the_named_tracks_alone(phrases, tmp_path):
    from bytes2beats.engine.train import harmony_anchor_indices, harmony_track_indices

    cfg = ModelConfig(g_width=8, d_width=8, chords=True)
    assert harmony_track_indices(cfg, "") == [1, 2, 3, 4]  # every pitched track
    assert harmony_track_indices(cfg, "piano, Guitar,Strings") == [1, 2, 4]
    for names, said in [("Piano,Drums", "'Drums' is not a pitched track"), ("Piano,Oboe", "'Oboe' is not"),
                        ("Piano,piano", "two or more different")]:
        with pytest.raises(ValueError, match=said):
            harmony_track_indices(cfg, names)
    assert "harmony_tracks" in TrainConfig(harmony_tracks="Piano").problem()

    # a run with the bass left out (and the pitch-variety, spread and hold terms): its harmony
    # term gives the bass's notes no gradient
    tcfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=1, n_critic=1, harmony_loss=1,
                       harmony_tracks="Piano,Guitar,Strings", binary_neurons="deterministic", pitch_variety_loss=1,
                       spread_loss=1, hold_loss=1)
    trainer = Trainer(cfg, tcfg, phrases, RunPaths.for_model(tmp_path / "m.safetensors"), torch.device("cpu"),
                      log=lambda s: None)
    assert trainer.harmony_tracks == [1, 2, 4] and trainer.fit(show_progress=False)
    from bytes2beats.engine.train import harmony_gap

    # every real track on C-E-G; generated, each pitched track on a chord of its own
    real = torch.zeros(1, 5, 64, 84)
    real[0, 1:, :, [36, 40, 43]] = 1
    x = torch.full((1, 5, 64, 84), 0.1)
    for track, chord in [(1, [36, 40, 43]), (2, [42, 46, 49]), (3, [38, 41, 45]), (4, [39, 44, 47])]:
        x[0, track, :, chord] = 0.9
    x.requires_grad_(True)
    harmony_gap(x, real, trainer.harmony_tracks, 16, LOW).backward()
    assert x.grad[:, 3].abs().sum() == 0 and x.grad[:, 1].abs().sum() > 0

    # the bass held (--harmony-anchors Bass): the guitar is pulled toward it, the bass not moved
    held = harmony_anchor_indices(cfg, "Bass", trainer.harmony_tracks)
    assert held == [3]
    guitar_bass_only = harmony_gap(x.detach(), real, [2], 16, LOW, held)  # one pair: guitar with bass
    assert guitar_bass_only.item() > 0.1
    x.grad = None
    harmony_gap(x, real, trainer.harmony_tracks, 16, LOW, held).backward()
    assert x.grad[:, 3].abs().sum() == 0 and x.grad[:, 2].abs().sum() > 0
    assert harmony_gap(real, real, [1, 2], 16, LOW, held).item() == 0
    for names, said in [("Drums", "'Drums' is not a pitched track"), ("Guitar", "'Guitar' is also pulled")]:
        with pytest.raises(ValueError, match=f"--harmony-anchors: {said}"):
            harmony_anchor_indices(cfg, names, trainer.harmony_tracks)


def test_the_pitch_variety_term_counts_pitch_classes_as_upc_and_pulls_only_up(phrases):
    from bytes2beats.engine.metrics import bars_of, used_pitch_classes
    from bytes2beats.engine.train import TrainConfig, pitch_classes_a_bar, pitch_variety_gap

    rolls = np.asarray(phrases.rolls[:16])  # real phrases
    steps_per_bar = rolls.shape[2] // 4
    pitched = [1, 2, 3, 4]
    x = torch.as_tensor(rolls, dtype=torch.float32)
    ours = pitch_classes_a_bar(x, pitched, steps_per_bar, LOW).numpy()
    theirs = used_pitch_classes(bars_of(rolls, steps_per_bar), LOW)[pitched]
    assert np.allclose(ours, np.nan_to_num(theirs), atol=1e-4)  # the UPC the quality targets measure
    assert pitch_variety_gap(x, x, pitched, steps_per_bar, LOW).item() == 0

    # real piano bars on C-E-G-Bb, generated on C-E-G: one pitch class short a bar; descending,
    # the absent Bb's cells rise and the present ones are left as they are
    real = torch.zeros(1, 2, 16, 24)
    real[0, 1, :, [12, 16, 19, 22]] = 1
    fake = torch.zeros(1, 2, 16, 24)
    fake[0, 1, :, [12, 16, 19]] = 1
    fake.requires_grad_(True)
    gap = pitch_variety_gap(fake, real, [1], 16, LOW)
    assert gap.item() == pytest.approx(1.0)
    gap.backward()
    assert (fake.grad[0, 1, :, 22] < 0).all() and (fake.grad[0, 1, :, 12] == 0).all()
    assert pitch_variety_gap(real, fake.detach(), [1], 16, LOW).item() == 0  # more than the players: free
    assert "pitch_variety_loss" in TrainConfig(pitch_variety_loss=-1).problem()


@pytest.mark.parametrize("flags, said", [
    (["--harmony-tracks", "Piano,Tuba"], "--harmony-tracks: 'Tuba' is not a pitched track"),
    (["--harmony-tracks", "Piano,Guitar", "--harmony-anchors", "Guitar"], "--harmony-anchors: 'Guitar' is also pulled"),
])
def test_train_with_harmony_tracks_it_has_not_is_one_line(cli_in_process, tmp_path, monkeypatch, flags, said):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code, out, err = cli_in_process("train", "--data", LPD, "--out", tmp_path / "m.safetensors", "--epochs", "1",
                                    "--harmony-loss", "1", *flags)
    assert code == 1
    assert said in err.strip().splitlines()[-1]
    assert "Traceback" not in err and not (tmp_path / "m.safetensors").exists()


def test_the_repetition_term_counts_bar_similarity_as_the_metrics_and_pulls_only_up(phrases):
    from bytes2beats.engine.metrics import bar_similarity, chroma, phrase_self_similarity
    from bytes2beats.engine.train import TrainConfig, bar_similarities, repetition_gap

    rolls = np.asarray(phrases.rolls[:16])  # real phrases
    steps_per_bar = rolls.shape[2] // 4
    ours = bar_similarities(torch.as_tensor(rolls, dtype=torch.float32), steps_per_bar, LOW).numpy()
    # metrics.phrase_self_similarity with a pitch class present once however many octaves sound it
    n, t, s, p = rolls.shape
    x = rolls.reshape(n, t, 4, steps_per_bar, p)
    features = np.concatenate([chroma(x.any(axis=3), LOW) > 0, x.any(axis=4)], axis=3)
    features = features.transpose(0, 2, 1, 3).reshape(n, 4, -1).astype(float)
    unit = features / np.maximum(np.linalg.norm(features, axis=2, keepdims=True), 1e-6)
    assert np.allclose(ours, [bar_similarity(m) for m in unit @ unit.transpose(0, 2, 1)], atol=1e-5)

    # real: the same bar four times; generated: the same, but the second bar with a note more.
    # The gap is the difference, and descending it takes that note away and adds none
    real = torch.zeros(1, 2, 64, 24)
    real[0, 1, :, 12] = 1
    fake = real.clone()
    fake[0, 1, 16:32, 14] = 1
    fake.requires_grad_(True)
    gap = repetition_gap(fake, real, 16, LOW)
    # one pitch class or two a bar, no octaves: the metrics' own bar similarity
    expected = 1 - bar_similarity(phrase_self_similarity(fake.detach().numpy() > 0, 16, LOW)[0])
    assert gap.item() == pytest.approx(expected, abs=1e-5) and gap.item() > 0
    gap.backward()
    assert (fake.grad[0, 1, 16:32, 14] > 0).all()  # the note that sets the bar apart
    assert (fake.grad[fake.detach() == 0] == 0).all()  # no cell without a note is pushed
    assert repetition_gap(real, fake.detach(), 16, LOW).item() == 0  # repeating more than players: free
    assert "repetition_loss" in TrainConfig(repetition_loss=-1).problem()


def test_the_onset_term_counts_starts_as_the_metrics_and_moves_them_toward_the_players(phrases):
    from bytes2beats.engine.metrics import onset_positions
    from bytes2beats.engine.train import TrainConfig, note_edges_in_beat, onset_gap

    rolls = np.asarray(phrases.rolls[:16])  # real phrases
    spb = 12
    ours = note_edges_in_beat(torch.as_tensor(rolls, dtype=torch.float32), spb)[0].numpy()
    assert np.allclose(ours, np.nan_to_num(onset_positions(rolls, spb)), atol=1e-5)

    # real: a one-step note on every beat; generated: on the first beat, then on the 16th after
    # each beat. Starts and ends each count twice the share misplaced (one-step notes alike),
    # and descending the gap the beats' cells rise and the 16ths' fall
    real = torch.zeros(1, 2, 48, 24)
    real[0, 1, 0::12, 12] = 1
    fake = torch.zeros(1, 2, 48, 24)
    fake[0, 1, [0, 15, 27, 39], 12] = 1
    fake.requires_grad_(True)
    gap = onset_gap(fake, real, spb)
    assert gap.item() == pytest.approx(3.0)  # 3 of the piano's 4 starts misplaced; silent tracks count none
    gap.backward()
    assert (fake.grad[0, 1, 12::12, 12] < 0).all() and (fake.grad[0, 1, 15::12, 12] > 0).all()
    assert onset_gap(real, real, spb).item() == 0
    # a held note where the players play one-step notes: its length counts, though it starts on the beat
    held = torch.zeros(1, 2, 48, 24)
    held[0, 1, 0:5, 12] = 1
    held[0, 1, 12::12, 12] = 1
    assert onset_gap(held, real, spb).item() == pytest.approx(0.5 + 0.25)  # its end, one note less a step long
    assert "onset_loss" in TrainConfig(onset_loss=-1).problem()


def test_the_spread_term_counts_pitch_spread_as_the_classifier_and_narrows_by_taking_notes_away(phrases):
    from bytes2beats.engine.train import TrainConfig, pitch_spread_gap, pitch_spreads
    from bytes2beats.engine.two_sample import phrase_features

    rolls = np.asarray(phrases.rolls[:16])  # real phrases
    names = ["Drums", "Piano", "Guitar", "Bass", "Strings"]
    features, columns = phrase_features(rolls, names, 0, 12, LOW)
    ours = pitch_spreads(torch.as_tensor(rolls, dtype=torch.float32), [1, 2, 3, 4], LOW).numpy()
    theirs = [np.nanmean(features[:, columns.index(f"{name} pitch spread")]) for name in names[1:]]
    assert np.allclose(ours, theirs, atol=1e-3)  # the feature the classifier two-sample test reads

    # real bass on C2 alone; generated on C2 with a C4 blip: the blip is taken away, C2 kept,
    # and no silent cell gains a note
    real = torch.zeros(1, 4, 48, 48)
    real[0, 3, :, 12] = 1
    fake = torch.zeros(1, 4, 48, 48)
    fake[0, 3, :, 12] = 1
    fake[0, 3, 0:6, 36] = 1
    fake.requires_grad_(True)
    gap = pitch_spread_gap(fake, real, [3], LOW)
    assert gap.item() > 5
    gap.backward()
    assert (fake.grad[0, 3, 0:6, 36] > 0).all() and (fake.grad[0, 3, :, 12] <= 0).all()
    assert (fake.grad[0, 3, :, 13:36] == 0).all()
    assert pitch_spread_gap(real, fake.detach(), [3], LOW).item() == 0  # narrower than the players: free
    assert "spread_loss" in TrainConfig(spread_loss=-1).problem()


def test_the_hold_term_lengthens_notes_fills_gaps_and_takes_fragments_away():
    from bytes2beats.engine.train import TrainConfig, hold_gap, starts_per_step

    # real strings: one note a bar (48 steps); generated: notes of 3 steps with a step's gap,
    # and a one-step fragment on another pitch
    real = torch.zeros(1, 2, 96, 24)
    real[0, 1, :, 12] = 1
    real[0, 1, 48, 12] = 0
    fake = torch.zeros(1, 2, 96, 24)
    fake[0, 1, :, 12] = 1
    fake[0, 1, 3::4, 12] = 0
    fake[0, 1, 50, 16] = 1
    assert starts_per_step(real, [1]).item() == pytest.approx(2 / 95)
    assert starts_per_step(fake, [1]).item() == pytest.approx(25 / 73)
    fake.requires_grad_(True)
    gap = hold_gap(fake, real, [1])
    gap.backward()
    assert gap.item() == pytest.approx(25 / 73 - 2 / 95)
    assert (fake.grad[0, 1, 3:-1:4, 12] < 0).all()  # the gaps between the notes fill
    assert fake.grad[0, 1, 50, 16] > 0  # the fragment goes
    assert fake.grad[0, 1, 60, 20] > 0  # no new note starts
    assert hold_gap(real, fake.detach(), [1]).item() == 0  # held longer than the players: free
    assert "hold_loss" in TrainConfig(hold_loss=-1).problem()
