"""The ranges a user's settings may take, each written once.

The command line checks its flags against these, the live scheduler its tempo, and the
window sets its spin boxes and its slider from them: a value one of them takes, the others
take too. Plain Python (no Qt, no torch), so that building the command line's parser and
the window's toolbar stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """A closed range [low, high], or an open one (low, high) where the ends mean nothing."""

    low: float
    high: float
    open: bool = False

    def __contains__(self, value: float) -> bool:  # NaN is in no range
        if self.open:
            return self.low < value < self.high
        return self.low <= value <= self.high

    def describe(self) -> str:
        return f"between {shown(self.low)} and {shown(self.high)}"


def shown(value: float) -> str:
    """A number as people write it: 20 for 20.0, and a seed whole, not as 2.14748e+09."""
    return f"{value:g}" if isinstance(value, float) else str(value)


# A DAW's tempo range: Ableton Live and Bitwig start at 20 BPM, and 400 is past the fastest
# styles played (speedcore, gabber, drum and bass counted in double time) and keeps every
# tempo the command line took before (the window's box stopped at 300).
BPM = Limit(20.0, 400.0)
DEFAULT_BPM = 120.0

# The note probability that makes a note: 0 would write every cell, 1 none.
THRESHOLD = Limit(0.0, 1.0, open=True)

# Bars of a generated clip: 256 is a whole song and more (51 minutes at 20 BPM); the model
# makes a clip phrase by phrase, so a long one costs time, not a larger network.
CLIP_BARS = Limit(1, 256)

# Seeds: the window's seed box holds a signed 32-bit number, so a clip made on the command
# line can be typed in the window and made again.
SEED = Limit(0, 2**31 - 1)

# How far notes move onto the grid, in percent (a DAW's quantize strength).
QUANTIZE_PERCENT = Limit(0.0, 100.0)
FEEL_PERCENT = Limit(0.0, 100.0)

# The MIDI systems a user can name ("auto": the platform's own, then JACK); the engine's
# live ports map each to python-rtmidi's API.
MIDI_APIS = ("auto", "alsa", "jack", "coremidi", "winmm")
