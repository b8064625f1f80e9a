"""The self-attention WGAN-GP: config, generator, critic, and self-describing checkpoints.

Read top to bottom. Shapes use B for the batch, T for tracks, S for time steps in a phrase
(n_bars * 4 beats * steps_per_beat; 64 for four bars of 16ths) and P for pitches (84, seven
octaves from C1). After the seed paper ("From Bytes to Beats", WGAN-GP with self-attention)
and MuseGAN's hybrid generator (Dong et al., 2018).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_write
from .chords import N_FEATURES as CHORD_FEATURES
from .failures import os_reason
from .families import family_tracks
from .model_store import CRITIC_PREFIX, TAKES_PREFIX
from .pianoroll import BEATS_PER_BAR

OCTAVE = 12


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; saved inside every checkpoint."""

    track_set: int = 5  # 5 (LPD-5 families) or 17 (LPD-17)
    steps_per_beat: int = 4
    n_bars: int = 4
    lowest_pitch: int = 24  # C1
    n_pitches: int = 84  # seven octaves, C1-B7
    z_shared: int = 64  # noise shared by all tracks: the song's "idea"
    z_track: int = 32  # noise of one track: changing it regenerates that track alone
    track_embedding: int = 16
    genres: list[str] = field(default_factory=list)  # conditioning when non-empty
    genre_embedding: int = 16
    g_width: int = 64
    d_width: int = 64
    dropout: float = 0.3
    attention: bool = True  # the seed paper's SelfAttention blocks; off for the ablation
    # How beats become steps. "per-beat": one layer, kernel = stride = steps_per_beat, so
    # neighbouring steps share no weights (the first models; notes came out in fragments).
    # "staged": beats to 16ths to steps, each layer's kernel longer than its stride, so
    # every step is drawn from the 16ths around it as well (see `time_stages`).
    time_layers: str = "per-beat"
    # The critic also scores each track's bars by how much plays in them and how loud
    # their loudest cell is (see `BarStatistics`); off in the models trained before it.
    critic_bar_statistics: bool = False
    # The critic also sees where within the beat each track's notes start and end (see
    # `OnsetStatistics`); off in the models trained before it.
    critic_onset_statistics: bool = False
    # The critic also sees how much each track's bars repeat one another, in rhythm and in
    # pitch classes (see `RepetitionStatistics`); off in the models trained before it.
    critic_repetition_statistics: bool = False
    # The critic also sees how much the phrases of a small group of the batch differ from
    # one another, in its own features (ProGAN's minibatch standard deviation, see
    # `group_variety`); off in the models trained before it.
    critic_batch_variety: bool = False
    # Chord conditioning: the generator and the critic read a chord per beat (24 numbers:
    # its pitch classes and its bass note, engine/chords.py); off in the models before it.
    chords: bool = False
    # With chords: the chord's offsets are learned per track, and after the octave layer per
    # octave as well, so that each track can put the chord's tones in its own register (with
    # one offset for all, the bass heard the root in every octave alike and leapt between
    # them); off in the first chord model.
    chord_register: bool = False
    # The generator's bars tied: after its first layer (a feature map per bar), each track's
    # channels are pulled toward the phrase's mean bar by a learned share (see
    # `Generator._tied_bars`); off in the models trained before it.
    bar_tie: bool = False
    # Manners: each track of a phrase is told how to play (onsets a bar, note length, notes of
    # a beat or more, pitch range; engine/manner.py), drawn in generation from the songs' own;
    # off in the models trained before it.
    manners: bool = False
    threshold: float = 0.9  # default binarization threshold (the seed paper's)

    def __post_init__(self):
        if self.time_layers not in ("per-beat", "staged"):
            raise ValueError(f"unknown time_layers {self.time_layers!r} (per-beat or staged)")

    def problem(self, name=lambda field: field) -> str | None:
        """The first value no network should be built from, as one line ("g_width must be
        from 1 to 512, not 2500"), or None. `name` says what to call a field (a command-line
        flag). Checked before a layer is built: a file whose config says width 2500 would
        otherwise take gigabytes before it failed."""
        return config_problem(self, MODEL_RULES, name)

    @property
    def n_tracks(self) -> int:
        return self.track_set

    @property
    def n_beats(self) -> int:
        return self.n_bars * BEATS_PER_BAR

    @property
    def n_steps(self) -> int:
        return self.n_beats * self.steps_per_beat

    @property
    def tracks(self):
        return family_tracks(self.track_set)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """The config of `to_json`; ValueError (one line) for text that is not a JSON object.
        The values are not checked here: `problem()` does."""
        return cls(**config_fields(cls, text))


def config_fields(cls, text: str) -> dict:
    """The known fields of a config dataclass from its JSON; ValueError for anything but an object."""
    if not isinstance(text, str):
        raise ValueError(f"the config is a {type(text).__name__}, not JSON text")
    try:
        data = json.loads(text)
    except ValueError as error:  # json.JSONDecodeError and RecursionError's kin alike
        raise ValueError(f"the config is not JSON ({error})") from None
    except RecursionError:
        raise ValueError("the config is not JSON (nested too deep)") from None
    if not isinstance(data, dict):
        raise ValueError(f"the config is a JSON {type(data).__name__}, not an object")
    known = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in known}


def between(low: float, high: float) -> tuple:
    """A rule: a number from `low` to `high`, both included."""
    return (lambda v: low <= v <= high), f"from {low} to {high}"


def _grid_rule() -> tuple:
    # A step must be a whole number of MIDI ticks and of LPD's 24 steps a beat's multiples,
    # and `time_stages` must split a beat into 16ths and the rest: divisors of 48 are.
    allowed = [d for d in range(1, 49) if 48 % d == 0]
    return (lambda v: v in allowed), f"one of {', '.join(map(str, allowed[:-1]))} or {allowed[-1]} (divisors of 48)"


# What each size of a model may be: sane bounds, so that no file (or flag) builds a network
# of gigabytes. Types are checked first, against each field's default (config_problem).
MODEL_RULES = {
    "track_set": ((lambda v: v in (5, 17)), "5 or 17"),
    "steps_per_beat": _grid_rule(),
    "n_bars": between(1, 32),
    "lowest_pitch": between(0, 127),
    "n_pitches": ((lambda v: 12 <= v <= 120 and v % OCTAVE == 0), "a multiple of 12 from 12 to 120"),
    "z_shared": between(1, 1024),
    "z_track": between(1, 1024),
    "track_embedding": between(1, 1024),
    "genre_embedding": between(1, 1024),
    "g_width": between(1, 512),
    "d_width": between(1, 512),
    "dropout": ((lambda v: 0 <= v < 1), "from 0 up to (not including) 1"),
    "time_layers": ((lambda v: v in ("per-beat", "staged")), "per-beat or staged"),
    "threshold": ((lambda v: 0 < v < 1), "between 0 and 1"),
    "genres": ((lambda v: len(v) <= 256 and len(set(v)) == len(v) and all(0 < len(g) <= 100 for g in v)),
               "at most 256 different names"),
}


def config_problem(config, rules: dict, name=lambda field: field) -> str | None:
    """The first field of a config dataclass of the wrong type (judged by its default's)
    or against its rule in `rules` ({field: (test, what it must be)}), as one line; None if none."""
    def shown(v) -> str:
        return f"{v:g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)[:60]

    for f in fields(config):
        value = getattr(config, f.name)
        default = f.default_factory() if callable(f.default_factory) else f.default
        if isinstance(default, bool):
            ok, kind = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            kind = "a finite number"
        elif isinstance(default, str):
            ok, kind = isinstance(value, str), "text"
        elif isinstance(default, list):
            ok, kind = isinstance(value, list) and all(isinstance(v, str) for v in value), "a list of names"
        else:
            continue
        if not ok:
            return f"{name(f.name)} must be {kind}, not {shown(value)}"
        test, must = rules.get(f.name, (None, None))
        if test is not None and not test(value):
            return f"{name(f.name)} must be {must}, not {shown(value)}"
    if isinstance(config, ModelConfig) and config.lowest_pitch + config.n_pitches > 128:
        return (f"{name('lowest_pitch')} {config.lowest_pitch} and {name('n_pitches')} {config.n_pitches} "
                "reach above MIDI's highest pitch, 127")
    return None


class SelfAttention(nn.Module):
    """SAGAN self-attention over the positions of a feature map.

    Query, key and value are 1x1 convolutions; gamma starts at 0, so the block begins as
    the identity and the network lets attention in as it learns to use it.
    """

    def __init__(self, channels: int):
        super().__init__()
        inner = max(channels // 8, 1)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (n, h*w, c/8)
        k = self.key(x).flatten(2)  # (n, c/8, h*w)
        v = self.value(x).flatten(2)  # (n, c, h*w)
        attention = torch.softmax(q @ k, dim=-1)  # (n, h*w, h*w): each position over all others
        out = (v @ attention.transpose(1, 2)).view(n, c, h, w)  # (n, c, h, w)
        return x + self.gamma * out


def time_stages(steps_per_beat: int) -> list[int]:
    """The factors that take a beat to steps: 16ths first where the grid has them (12 -> 4, 3)."""
    if steps_per_beat > 4 and steps_per_beat % 4 == 0:
        return [4, steps_per_beat // 4]
    return [steps_per_beat]


def overlapping(factor: int) -> tuple[int, int]:
    """(kernel, padding) of a layer that scales time by `factor` exactly, each output step
    seeing its neighbours' inputs as well: (in - 1) * f - 2p + k = in * f with k = f + 2p."""
    padding = (factor + 1) // 2
    return factor + 2 * padding, padding


def _up(cin: int, cout: int, kernel, stride=1, padding=0) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout), nn.PReLU(cout)
    )


class Generator(nn.Module):
    """Noise to note probabilities: (B, z_shared) + (B, T, z_track) -> (B, T, S, P) in [0, 1].

    Hybrid as in MuseGAN: one network, shared by all tracks and told which track it draws
    by a learned embedding, turns [shared noise, the track's own noise, track, genre] into
    that track's pianoroll. A track depends on the shared noise and its own noise only, so
    new noise for one track regenerates it while every other track stays as it was.

    Six transposed convolutions grow time and pitch in musical units: bars, beats, octaves,
    a 3x3 layer over beats and octaves, then steps and pitch classes; self-attention after
    the fourth, where a phrase is 16 beats by 7 octaves. With staged time layers and a grid
    finer than 16ths, the last two are beats to 16ths, then 16ths to steps together with
    pitch classes.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.g_width
        self.track_embedding = nn.Embedding(cfg.n_tracks, cfg.track_embedding)
        self.genre_embedding = nn.Embedding(len(cfg.genres), cfg.genre_embedding) if cfg.genres else None
        z_in = cfg.z_shared + cfg.z_track + cfg.track_embedding + (cfg.genre_embedding if cfg.genres else 0)
        octaves = cfg.n_pitches // OCTAVE
        self.layers = nn.Sequential(
            _up(z_in, 4 * w, (cfg.n_bars, 1)),  # (4w, bars, 1)
            _up(4 * w, 4 * w, (BEATS_PER_BAR, 1), (BEATS_PER_BAR, 1)),  # (4w, beats, 1)
            _up(4 * w, 2 * w, (1, octaves), (1, octaves)),  # (2w, beats, octaves)
            _up(2 * w, 2 * w, 3, 1, 1),  # (2w, beats, octaves)
        )
        self.attention = SelfAttention(2 * w) if cfg.attention else nn.Identity()
        if cfg.chords:
            # The chord of each beat enters where time is in beats: once before pitch has
            # octaves (4w channels), once after (2w), as a learned offset per channel. Both
            # start at zero, so a generator warm-started from one without chords begins as it was.
            # With `chord_register` each track has its own offsets, and the second also one per
            # octave: (tracks x 4w) and (tracks x 2w x octaves) outputs.
            per_track = cfg.n_tracks if cfg.chord_register else 1
            per_octave = octaves if cfg.chord_register else 1
            self.chord_to_beats = _zero_linear(CHORD_FEATURES, per_track * 4 * w)
            self.chord_to_octaves = _zero_linear(CHORD_FEATURES, per_track * 2 * w * per_octave)
        if cfg.bar_tie:
            # A share per track and channel of the first layer; at zero, bars are drawn apart
            # as before, so a warm start begins where its source was.
            self.bar_tie = nn.Parameter(torch.zeros(cfg.n_tracks, 4 * w))
        if cfg.manners:
            from .manner import N_MANNERS, TABLE_PHRASES

            # Each track's manner is a learned offset per track at the bars (4w channels) and
            # at the beats (4w), zero at first, so a warm start begins where its source was.
            # The buffers standardize manners and hold the songs' to draw from (set by training).
            self.manner_to_bars = _zero_linear(N_MANNERS, cfg.n_tracks * 4 * w)
            self.manner_to_beats = _zero_linear(N_MANNERS, cfg.n_tracks * 4 * w)
            self.register_buffer("manner_mean", torch.zeros(cfg.n_tracks, N_MANNERS))
            self.register_buffer("manner_scale", torch.ones(cfg.n_tracks, N_MANNERS))
            self.register_buffer("manner_table", torch.zeros(max(1, len(cfg.genres)), TABLE_PHRASES,
                                                             cfg.n_tracks, N_MANNERS))
        # Only the last layer works at full resolution, and with one output channel: on a
        # CPU the cost of a layer is mostly the size of its output.
        self.to_notes = nn.Sequential(*self._time_and_pitch_layers(cfg, 2 * w, w), nn.Sigmoid())

    @staticmethod
    def _time_and_pitch_layers(cfg: ModelConfig, cin: int, w: int) -> list[nn.Module]:
        spb = cfg.steps_per_beat
        if cfg.time_layers == "per-beat" or len(time_stages(spb)) == 1:
            kernel, padding = (spb, 0) if cfg.time_layers == "per-beat" else overlapping(spb)
            return [
                _up(cin, w, (kernel, 1), (spb, 1), (padding, 0)),  # (w, S, octaves)
                nn.ConvTranspose2d(w, 1, (1, OCTAVE), (1, OCTAVE)),  # (1, S, P)
            ]
        sixteenths, last = time_stages(spb)
        k_16, p_16 = overlapping(sixteenths)
        k_last, p_last = overlapping(last)
        return [
            _up(cin, w, (k_16, 1), (sixteenths, 1), (p_16, 0)),  # (w, 16ths, octaves)
            # the last time stage and pitch classes in one layer
            nn.ConvTranspose2d(w, 1, (k_last, OCTAVE), (last, OCTAVE), (p_last, 0)),  # (1, S, P)
        ]

    def forward(self, z_shared, z_tracks, genre=None, chords=None, tracks=None, manners=None) -> torch.Tensor:
        """chords: (B, beats, 24) for a chord model (all zero: no chord given). `tracks`: the
        indices of the tracks to draw, with z_tracks holding only theirs (default: all); a
        track does not depend on the others, so drawing some costs only their share.
        manners: (B, T, 4) standardized, as z_tracks, for a manner model (None: the songs' mean)."""
        cfg = self.cfg
        b, t = z_tracks.shape[:2]
        embedding = self.track_embedding.weight if tracks is None else self.track_embedding.weight[tracks]
        parts = [
            z_shared.unsqueeze(1).expand(b, t, cfg.z_shared),  # (B, T, z_shared)
            z_tracks,  # (B, T, z_track)
            embedding.unsqueeze(0).expand(b, t, cfg.track_embedding),
        ]
        if self.genre_embedding is not None:
            g = self.genre_embedding(genre)  # (B, genre_embedding)
            parts.append(g.unsqueeze(1).expand(b, t, cfg.genre_embedding))
        x = torch.cat(parts, dim=2).view(b * t, -1, 1, 1)  # (B*T, z_in, 1, 1): tracks fold into the batch
        if cfg.chords:
            if chords is None:
                chords = z_shared.new_zeros(b, cfg.n_beats, CHORD_FEATURES)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if cfg.bar_tie and i == 0:  # (B*T, 4w, bars, 1)
                x = self._tied_bars(x, b, tracks)
            if cfg.manners and manners is not None and i in (0, 1):  # (B*T, 4w, bars or beats, 1)
                x = x + self._manner_offset(self.manner_to_bars if i == 0 else self.manner_to_beats, manners, tracks)
            if cfg.chords and i == 1:  # (B*T, 4w, beats, 1)
                x = x + self._chord_offset(self.chord_to_beats, chords, t, 1, tracks)
            elif cfg.chords and i == 3:  # (B*T, 2w, beats, octaves)
                x = x + self._chord_offset(self.chord_to_octaves, chords, t, x.shape[3], tracks)
        x = self.attention(x)
        x = self.to_notes(x)  # (B*T, 1, S, P)
        return x.view(b, t, cfg.n_steps, cfg.n_pitches)  # (B, T, S, P)


    def _tied_bars(self, x: torch.Tensor, b: int, tracks=None) -> torch.Tensor:
        """(B*T, 4w, bars, 1) -> the same, each channel moved toward the phrase's mean bar by
        its track's share. The first layer draws every bar from the noise through its own
        weights, so a groove that comes back bar after bar, as the songs' drums and bass do,
        has to be learned four times over; a share of 1 gives every bar the same start, and
        the bars then differ by their chords and by what the later layers see across the bar
        lines. Tracks fold into the batch as in `forward`."""
        share = self.bar_tie if tracks is None else self.bar_tie[tracks]  # (T, 4w)
        share = share.repeat(b, 1)[:, :, None, None]  # (B*T, 4w, 1, 1)
        return x + share * (x.mean(2, keepdim=True) - x)

    def _manner_offset(self, layer: nn.Linear, manners: torch.Tensor, tracks=None) -> torch.Tensor:
        """(B, T, manners) -> (B*T, 4w, 1, 1): each track's offset from its own manner, by its
        own weights; tracks fold into the batch as in `forward`."""
        b, t = manners.shape[:2]
        out = layer(manners).view(b, t, self.cfg.n_tracks, -1)  # (B, T, all tracks, 4w)
        index = torch.arange(self.cfg.n_tracks, device=manners.device) if tracks is None else \
            torch.as_tensor(tracks, device=manners.device)
        out = out[:, torch.arange(t, device=manners.device), index]  # each track by its own weights
        return out.reshape(b * t, -1, 1, 1)

    def _chord_offset(self, layer: nn.Linear, chords: torch.Tensor, t: int, octaves: int,
                      tracks=None) -> torch.Tensor:
        """(B, beats, 24) chords -> (B*T, channels, beats, octaves or 1), added to the time
        layer of that shape; tracks fold into the batch as in `forward`."""
        b, beats = chords.shape[:2]
        out = layer(chords)  # (B, beats, [T x] channels [x octaves])
        if not self.cfg.chord_register:  # one offset for every track and octave
            return out.repeat_interleave(t, dim=0).transpose(1, 2).unsqueeze(3)
        out = out.view(b, beats, self.cfg.n_tracks, -1, octaves)  # (B, beats, all tracks, channels, octaves)
        if tracks is not None:
            out = out[:, :, tracks]
        return out.permute(0, 2, 3, 1, 4).reshape(b * t, -1, beats, octaves)


def registered_chord_weights(state: dict, n_tracks: int, octaves: int) -> dict:
    """A generator's state without `chord_register` -> the same generator with it: each
    shared chord offset copied to every track (and octave), so that the new model begins
    exactly where the old one was and learns from there which register takes what."""
    state = dict(state)
    for name, copies in (("chord_to_beats", 1), ("chord_to_octaves", octaves)):
        for part in ("weight", "bias"):
            key = f"{name}.{part}"
            if key in state:
                state[key] = state[key].repeat_interleave(copies, dim=0).repeat(n_tracks, *([1] * (state[key].dim() - 1)))
    return state


def _zero_linear(cin: int, cout: int) -> nn.Linear:
    layer = nn.Linear(cin, cout)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _down(cin: int, cout: int, kernel, stride=1, padding=0) -> nn.Sequential:
    # Layer norm (GroupNorm with one group normalizes each sample over C, H, W), not the
    # seed paper's batch norm: the gradient penalty is taken per sample, and batch norm
    # makes each sample's score depend on the rest of the batch, which the WGAN-GP paper
    # (Gulrajani et al. 2017, section 4) shows invalidates the penalty.
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.GroupNorm(1, cout), nn.PReLU(cout))


class BarStatistics(nn.Module):
    """A second view for the critic: per track and bar, the share of cells that play and
    the largest cell, (B, T, S, P) -> (B, features).

    The convolutions pool a bar's cells long before the score, and one or two stray notes
    in a bar that should be silent are easy to lose there; in these two numbers they are
    the whole difference between an empty bar and a nearly empty one. With binary neurons
    they read exactly: the notes in a bar, and whether it has any.
    """

    def __init__(self, cfg: ModelConfig, width: int):
        super().__init__()
        self.n_bars = cfg.n_bars
        self.features = nn.Sequential(nn.Linear(cfg.n_tracks * cfg.n_bars * 2, width), nn.PReLU(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        bars = x.reshape(b, t, self.n_bars, -1)  # (B, T, bars, steps_per_bar * P)
        stats = torch.stack([bars.mean(-1), bars.amax(-1)], dim=-1)  # (B, T, bars, 2)
        return self.features(stats.flatten(1))


class OnsetStatistics(nn.Module):
    """A third view for the critic: per track, where within the beat its notes start and
    end, (B, T, S, P) -> (B, features).

    Soft onsets are relu(x[s] - x[s-1]) and soft offsets relu(x[s] - x[s+1]) (a note's last
    step), with silence before the first step and after the last; on notes (binary neurons,
    the real data) they are exactly the notes' first and last steps, on probabilities their
    rises and falls. Summed over the phrase's beats and the pitches, per position within the
    beat (steps_per_beat of them), and divided by the track's onsets in the phrase plus one,
    they are the track's onset and offset profiles: about a distribution over the beat's
    positions (each sums to n / (n + 1) for n onsets), so they tell where notes fall, not
    how many there are; the one of the denominator keeps a silent or nearly silent track's
    profile (and its gradient) near zero instead of blowing a stray rise up to a whole
    profile. (Onsets and offsets are equal in number: a track's rises and falls cancel.)
    How many: one more number per track, its onsets per step (summed over pitches).
    Features: T * (2 * steps_per_beat + 1).

    The convolutions pool steps into 16ths and beats before they could count where within
    the beat onsets fall; here the grid is explicit: a note started on a step off the
    16th/triplet grid, or one lasting a single step, shows in these few numbers outright.
    """

    def __init__(self, cfg: ModelConfig, width: int):
        super().__init__()
        self.steps_per_beat = cfg.steps_per_beat
        n_features = cfg.n_tracks * (2 * cfg.steps_per_beat + 1)
        self.features = nn.Sequential(nn.Linear(n_features, width), nn.PReLU(width))

    def profiles(self, x: torch.Tensor) -> torch.Tensor:
        """The numbers the view reads: (B, T, 2 * steps_per_beat + 1) = [onset profile,
        offset profile, onsets per step]."""
        b, t, s, _ = x.shape
        # Every onset and offset through a relu of its own: equal in value, relu(d) - d for
        # relu(-d) is not equal in gradient where d = 0 (wherever silence meets silence, in
        # real rolls and their interpolates), and blew the gradient penalty up a hundredfold.
        rise = x[:, :, 1:] - x[:, :, :-1]  # (B, T, S - 1, P)
        first, last = torch.relu(x[:, :, :1]), torch.relu(x[:, :, -1:])  # silence before and after
        onsets = torch.cat([first.sum(3), torch.relu(rise).sum(3)], dim=2)  # (B, T, S): over pitches
        offsets = torch.cat([torch.relu(-rise).sum(3), last.sum(3)], dim=2)  # (B, T, S)
        spb = self.steps_per_beat
        on = onsets.view(b, t, s // spb, spb).sum(2)  # (B, T, spb): over beats
        off = offsets.view(b, t, s // spb, spb).sum(2)  # (B, T, spb)
        total = on.sum(2, keepdim=True)  # (B, T, 1): the track's onsets in the phrase
        return torch.cat([on / (total + 1), off / (total + 1), total / s], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.profiles(x).flatten(1))


class RepetitionStatistics(nn.Module):
    """A fourth view for the critic: per track, how alike its bars are to one another,
    (B, T, S, P) -> (B, features).

    Two vectors per track and bar: its rhythm (soft onsets relu(x[s] - x[s-1]) per step,
    summed over pitches, as `OnsetStatistics` counts them) and its pitch classes (the steps
    each class sounds, over octaves). Each is scaled to v / (|v| + 1), a unit vector for a
    busy bar and near zero for a nearly silent one (whose direction is noise, and whose
    cosine's gradient 1/|v| would blow the gradient penalty up), and every pair of bars gives
    its dot product: bars(bars - 1) / 2 similarities per track and kind.
    Features: T * 2 * bars(bars - 1) / 2.

    Real songs repeat bars: a drum groove, a bass riff, a chord pattern comes back each bar
    (rock: drums' rhythm 0.90 alike from one bar to another, the bass's onsets 0.81). The
    convolutions see bars through different weights at each bar position and pool them into
    one score; whether bar 3 repeats bar 1 is then a comparison they must learn. Here it is
    a few numbers the critic reads outright.
    """

    def __init__(self, cfg: ModelConfig, width: int):
        super().__init__()
        self.cfg = cfg
        self.pairs = torch.triu_indices(cfg.n_bars, cfg.n_bars, offset=1)
        n_features = cfg.n_tracks * 2 * self.pairs.shape[1]
        self.features = nn.Sequential(nn.Linear(n_features, width), nn.PReLU(width))

    def similarities(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 2, pairs): the rhythm and the pitch classes of every pair of bars, alike."""
        b, t, s, p = x.shape
        bars = self.cfg.n_bars
        rise = torch.relu(x[:, :, 1:] - x[:, :, :-1])  # (B, T, S - 1, P)
        onsets = torch.cat([torch.relu(x[:, :, :1]), rise], dim=2).sum(3)  # (B, T, S)
        rhythm = onsets.view(b, t, bars, s // bars)
        classes = x.view(b, t, bars, s // bars, p // OCTAVE, OCTAVE).sum((3, 4))  # (B, T, bars, 12)
        alike = []
        for v in (rhythm, classes):
            u = v / (v.norm(dim=3, keepdim=True) + 1)
            gram = u @ u.transpose(2, 3)  # (B, T, bars, bars)
            alike.append(gram[:, :, self.pairs[0], self.pairs[1]])
        return torch.stack(alike, dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.similarities(x).flatten(1))


def pitch_classes_per_beat(x: torch.Tensor, steps_per_beat: int, lowest_pitch: int) -> torch.Tensor:
    """(B, T, S, P) -> (B, T, beats, 12): how much each track sounds on each pitch class (C = 0)
    in each beat, summed over the beat's steps and the octaves. P is whole octaves from
    `lowest_pitch`."""
    b, t, s, p = x.shape
    per_class = x.reshape(b, t, s // steps_per_beat, steps_per_beat, p // OCTAVE, OCTAVE).sum((3, 4))
    return torch.roll(per_class, lowest_pitch % OCTAVE, dims=3)


class ChordFit(nn.Module):
    """A fourth view for the critic: per beat, the pitch classes each pitched track sounds
    beside the beat's chord, (B, T, S, P) + (B, beats, 24) -> (B, features).

    A track's pitch-class profile in a beat (steps sounding per class, over octaves, as a
    share of what the track sounds there plus one) next to the chord's 24 numbers, through
    a small network per beat, averaged over the beats: whether what plays fits the chord
    it is asked to is then a few numbers the critic reads outright, where the convolutions
    would have to learn a chord's pitch classes from beats and octaves apart.
    """

    def __init__(self, cfg: ModelConfig, width: int):
        super().__init__()
        self.cfg = cfg
        self.pitched = [i for i, t in enumerate(cfg.tracks) if not t.is_drum]
        n_in = len(self.pitched) * OCTAVE + CHORD_FEATURES
        self.per_beat = nn.Sequential(nn.Linear(n_in, width), nn.PReLU(width), nn.Linear(width, width), nn.PReLU(width))

    def profiles(self, x: torch.Tensor) -> torch.Tensor:
        """(B, beats, pitched tracks * 12): each pitched track's pitch classes per beat."""
        per_class = pitch_classes_per_beat(x[:, self.pitched], self.cfg.steps_per_beat, self.cfg.lowest_pitch)
        per_class = per_class / (per_class.sum(3, keepdim=True) + 1)  # (B, Tp, beats, 12)
        return per_class.permute(0, 2, 1, 3).flatten(2)

    def forward(self, x: torch.Tensor, chords: torch.Tensor) -> torch.Tensor:
        both = torch.cat([self.profiles(x), chords.to(x.dtype)], dim=2)  # (B, beats, features)
        return self.per_beat(both.flatten(0, 1)).view(x.shape[0], both.shape[1], -1).mean(1)


class Critic(nn.Module):
    """Pianorolls to one unbounded realness score: (B, T, S, P) -> (B,).

    Tracks are input channels, so the critic judges how the instruments play together.
    Five convolutions shrink pitch and time in musical units (pitch classes, beats, a 3x3
    layer, bars, octaves); self-attention after the third; dropout; a linear score. Staged
    time layers mirror the generator's: steps with pitch classes to 16ths, then to beats,
    each kernel longer than its stride. With genres, a projection term (Miyato & Koyama
    2018) scores whether the music fits the genre. With `critic_bar_statistics`, a second
    score (and projection term) comes from each track's bars summed up (`BarStatistics`);
    with `critic_onset_statistics`, another from where in the beat each track's notes start
    and end (`OnsetStatistics`); with `critic_repetition_statistics`, another from how alike
    each track's bars are (`RepetitionStatistics`); with `chords`, another from whether the
    pitched tracks fit each beat's chord (`ChordFit`). Each such branch's parameters are named
    after it (`bar_`, `onset_`, `repetition_`, `chord_`), so a warm start can tell the new ones.
    """

    VIEWS = ("bar", "onset", "repetition", "chord")  # the views beside the convolutions, in scoring order

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.d_width
        octaves = cfg.n_pitches // OCTAVE
        self.layers = nn.Sequential(
            *self._pitch_and_time_layers(cfg, w),  # (2w, beats, octaves)
            _down(2 * w, 2 * w, 3, 1, 1),  # (2w, beats, octaves)
        )
        self.attention = SelfAttention(2 * w) if cfg.attention else nn.Identity()
        self.to_bars = nn.Sequential(
            _down(2 * w, 4 * w, (BEATS_PER_BAR, 1), (BEATS_PER_BAR, 1)),  # (4w, bars, octaves)
            _down(4 * w, 4 * w, (1, octaves), (1, octaves)),  # (4w, bars, 1)
        )
        self.dropout = nn.Dropout(cfg.dropout)
        features = 4 * w * cfg.n_bars
        self.score = nn.Linear(features, 1)
        self.genre_projection = nn.Embedding(len(cfg.genres), features) if cfg.genres else None
        self.bar_statistics = self.onset_statistics = None
        if cfg.critic_bar_statistics:
            self._add_view("bar", BarStatistics(cfg, 4 * w), 4 * w)
        if cfg.critic_onset_statistics:
            self._add_view("onset", OnsetStatistics(cfg, 4 * w), 4 * w)
        self.repetition_statistics = None
        if cfg.critic_repetition_statistics:
            self._add_view("repetition", RepetitionStatistics(cfg, 4 * w), 4 * w)
        self.chord_statistics = None
        if cfg.chords:
            self._add_view("chord", ChordFit(cfg, 4 * w), 4 * w)
        self.variety_score = None
        if cfg.critic_batch_variety:  # over the features and every view's: zero at first, as a view's score
            views = sum(getattr(self, f"{name}_statistics") is not None for name in self.VIEWS)
            self.variety_score = nn.Linear(features + 4 * w * views, 1)
            nn.init.zeros_(self.variety_score.weight)
            nn.init.zeros_(self.variety_score.bias)

    def _add_view(self, name: str, view: nn.Module, width: int) -> None:
        """A view beside the convolutions: `{name}_statistics`, its score `{name}_score` and
        genre projection `{name}_genre_projection`, both zero at first, so that a critic
        warm-started from one without this view scores as before and learns what it adds."""
        setattr(self, f"{name}_statistics", view)
        score = nn.Linear(width, 1)
        nn.init.zeros_(score.weight)
        nn.init.zeros_(score.bias)
        setattr(self, f"{name}_score", score)
        projection = nn.Embedding(len(self.cfg.genres), width) if self.cfg.genres else None
        if projection is not None:
            nn.init.zeros_(projection.weight)
        setattr(self, f"{name}_genre_projection", projection)

    @staticmethod
    def _pitch_and_time_layers(cfg: ModelConfig, w: int) -> list[nn.Module]:
        spb, t = cfg.steps_per_beat, cfg.n_tracks
        if cfg.time_layers == "per-beat" or len(time_stages(spb)) == 1:
            kernel, padding = (spb, 0) if cfg.time_layers == "per-beat" else overlapping(spb)
            return [
                _down(t, w, (1, OCTAVE), (1, OCTAVE)),  # (w, S, octaves)
                _down(w, 2 * w, (kernel, 1), (spb, 1), (padding, 0)),  # (2w, beats, octaves)
            ]
        sixteenths, last = time_stages(spb)
        k_last, p_last = overlapping(last)
        k_16, p_16 = overlapping(sixteenths)
        return [
            _down(t, w, (k_last, OCTAVE), (last, OCTAVE), (p_last, 0)),  # (w, 16ths, octaves)
            _down(w, 2 * w, (k_16, 1), (sixteenths, 1), (p_16, 0)),  # (2w, beats, octaves)
        ]

    def forward(self, notes: torch.Tensor, genre=None, chords=None) -> torch.Tensor:
        x = self.layers(notes)  # (B, 2w, beats, octaves)
        x = self.attention(x)
        x = self.to_bars(x)  # (B, 4w, bars, 1)
        seen = [x.flatten(1)]  # what the variety score compares across the batch
        h = self.dropout(seen[0])  # (B, 4w * bars)
        score = self.score(h).squeeze(1)  # (B,)
        if self.genre_projection is not None:
            score = score + (self.genre_projection(genre) * h).sum(dim=1)
        for name in self.VIEWS:
            view = getattr(self, f"{name}_statistics")
            if view is not None:
                if name == "chord" and chords is None:
                    chords = notes.new_zeros(notes.shape[0], self.cfg.n_beats, CHORD_FEATURES)
                hv = view(notes, chords) if name == "chord" else view(notes)  # (B, 4w)
                seen.append(hv)
                score = score + getattr(self, f"{name}_score")(hv).squeeze(1)
                projection = getattr(self, f"{name}_genre_projection")
                if projection is not None:
                    score = score + (projection(genre) * hv).sum(dim=1)
        if self.variety_score is not None:
            score = score + self.variety_score(group_variety(torch.cat(seen, dim=1))).squeeze(1)
        return score


VARIETY_GROUP = 4  # phrases compared at once: ProGAN's group size


def group_variety(features: torch.Tensor) -> torch.Tensor:
    """(B, F) -> (B, F): each feature's standard deviation over the phrase's group of the
    batch (VARIETY_GROUP consecutive phrases; fewer where B does not divide by it), given
    to every phrase of the group: ProGAN's minibatch standard deviation (Karras et al. 2018),
    kept per feature. A generator that plays every phrase alike, or every phrase in between
    the songs' manners, shows less of it than a group of songs. Groups of 4, 2 or 1 divide
    both a batch and the critic's joined real, fake and interpolated batches (3B) alike, so
    a group never mixes them; a group of one has no variety (zeros)."""
    n = features.shape[0]
    group = next(g for g in (VARIETY_GROUP, 2, 1) if n % g == 0)
    if group == 1:
        return torch.zeros_like(features)
    grouped = features.view(n // group, group, -1)
    spread = (grouped.var(dim=1, unbiased=False) + 1e-8).sqrt()  # (groups, F)
    return spread.repeat_interleave(group, dim=0)


# ---------------------------------------------------------------------------------------
# Checkpoints: safetensors weights with the config as JSON in the file's own metadata, so a
# file rebuilds its model and loading never unpickles anything.


def save_model(generator: Generator, path: str | Path, extra: dict | None = None,
               critic: Critic | None = None, takes: dict | None = None) -> Path:
    """Write a generator as `.safetensors` with its config (and `extra` notes) inside, and
    its critic's weights (under `critic.`) when given: a model that carries its critic can be
    fine-tuned on a user's songs (`train --fine-tune`), which the generator alone cannot
    (a new critic would have to learn from nothing what the old one knew). About 0.9 MB more
    for the shipped configuration. `takes`: take judges' tensors (engine/takes.py:
    judges_to_tensors, already under TAKES_PREFIX), with `extra["takes"]` naming their genres.

    Written whole or not at all (engine/atomic.py), so a failed write leaves the old file
    whole; any failure is an OSError."""
    from safetensors import SafetensorError
    from safetensors.torch import save

    path = Path(path)
    metadata = {"config": generator.cfg.to_json(), "format": "bytes2beats-generator-1"}
    metadata.update({k: json.dumps(v) for k, v in (extra or {}).items()})
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    if critic is not None:
        state.update({CRITIC_PREFIX + k: v.detach().cpu().contiguous() for k, v in critic.state_dict().items()})
    state.update(takes or {})
    try:
        data = save(state, metadata=metadata)  # bytes, written as one file whole
        atomic_write(path, lambda handle: handle.write(data))
    except (OSError, SafetensorError) as error:
        raise OSError(f"cannot write {path}: {os_reason(error)}") from None
    return path


class ModelFileError(Exception):
    """A model file that cannot be loaded; str() is one line."""


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Generator, dict]:
    """Rebuild a generator from its `.safetensors` file: (model in eval mode, metadata).

    Every way a file can be wrong is a ModelFileError of one line naming the file: not a
    safetensors file, no config or one that is not a JSON object, sizes out of bounds
    (`ModelConfig.problem`, checked before any layer is built), weights of other names or
    shapes than the config's network (compared on the "meta" device, which allocates
    nothing: a file's cost is bounded by the weights it holds), NaN or infinite weights,
    metadata entries that are not JSON. What the entries mean is the Composer's to check."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()
                      if not key.startswith(TAKES_PREFIX)}  # the take judges: load_take_judges
    except (OSError, SafetensorError, ValueError, TypeError) as error:
        raise ModelFileError(f"{path}: not a Bytes to Beats model ({str(error)[:100]})") from None
    if "config" not in metadata:
        raise ModelFileError(f"{path}: not a Bytes to Beats model (it has no config)")
    try:
        cfg = ModelConfig.from_json(metadata["config"])
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"{path}: its config cannot be read ({str(error)[:100]})") from None
    problem = cfg.problem()
    if problem:
        raise ModelFileError(f"{path}: its config is not one of a usable model: {problem}")
    with torch.device("meta"):
        expected = {key: tuple(t.shape) for key, t in Generator(cfg).state_dict().items()}
        if any(key.startswith(CRITIC_PREFIX) for key in shapes):  # a model that carries its critic
            expected.update({CRITIC_PREFIX + key: tuple(t.shape) for key, t in Critic(cfg).state_dict().items()})
    misfit = sorted(set(expected) ^ set(shapes)) or [k for k in expected if expected[k] != shapes[k]]
    if misfit:
        key = misfit[0]
        what = (f"{key} is {list(shapes[key])}, its config makes it {list(expected[key])}"
                if key in expected and key in shapes else
                f"{key} is missing" if key in expected else f"{key} is not in its config's network")
        raise ModelFileError(f"{path}: weights do not fit its config ({what})")
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as error:
        raise ModelFileError(f"{path}: its weights cannot be read ({str(error)[:100]})") from None
    broken = next((k for k, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()), None)
    if broken:
        raise ModelFileError(f"{path}: its weights hold NaN or infinite numbers ({broken})")
    generator = Generator(cfg)
    try:
        generator.load_state_dict({k: v for k, v in state.items()
                                   if not k.startswith((CRITIC_PREFIX, TAKES_PREFIX))})
    except RuntimeError as error:
        raise ModelFileError(f"{path}: weights do not fit its config ({str(error)[:100]})") from None
    extra = {}
    for key, text in metadata.items():
        if key in ("config", "format"):
            continue
        try:
            extra[key] = json.loads(text)
        except (ValueError, RecursionError):
            raise ModelFileError(f"{path}: its metadata entry {key!r} is not JSON") from None
    return generator.to(device).eval(), extra


def load_take_judges(path: str | Path, meta: dict, cfg: ModelConfig) -> dict:
    """The take judges a model file carries (engine/takes.py), by genre; {} for a file without
    them. A ModelFileError of one line for judges that are damaged or not this model's."""
    from safetensors.torch import safe_open

    from .takes import MAX_TAKES, judges_from_tensors
    from .two_sample import model_phrase_features

    entry = meta.get("takes")
    if entry is None:
        return {}
    genres = entry.get("genres") if isinstance(entry, dict) else None
    if (not isinstance(genres, list) or not all(isinstance(g, str) for g in genres)
            or (cfg.genres and not set(genres) <= set(cfg.genres)) or (not cfg.genres and genres != [""])):
        raise ModelFileError(f"{path}: its 'takes' entry does not name this model's genres")
    default = entry.get("default", 1)
    if not isinstance(default, int) or not 1 <= default <= MAX_TAKES:
        raise ModelFileError(f"{path}: its 'takes' entry's default is not a number of takes from 1 to {MAX_TAKES}")
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys() if key.startswith(TAKES_PREFIX)}
    import numpy as np

    features = len(model_phrase_features(cfg, np.zeros((1, cfg.n_tracks, cfg.n_steps, cfg.n_pitches), bool))[1])
    try:
        return judges_from_tensors(tensors, genres, cfg.n_tracks, features)
    except (ValueError, RuntimeError, TypeError) as error:
        raise ModelFileError(f"{path}: {str(error)[:200]}") from None


def load_critic_weights(path: str | Path) -> dict | None:
    """The critic's weights a model file carries (checked by `load_model`, which must have
    read the file first), or None for a model written without them."""
    from safetensors.torch import safe_open

    with safe_open(str(path), framework="pt") as handle:
        keys = [key for key in handle.keys() if key.startswith(CRITIC_PREFIX)]
        return {key[len(CRITIC_PREFIX):]: handle.get_tensor(key) for key in keys} or None
