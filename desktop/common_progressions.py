"""The chord progressions most songs are made of, in Roman numerals, to render in any key. No Qt.

A progression written for a major key is rendered in the key chosen when it is major, and
in its relative major when it is minor (in A minor, I–V–vi–IV is C G Am F: the chords keep
the key's notes), and the other way round; with no key chosen, in C major or A minor.
"""

from __future__ import annotations

from dataclasses import dataclass

from bytes2beats.engine.progression import Key, parse_progression

C_MAJOR, A_MINOR = Key(0, False), Key(9, True)


@dataclass(frozen=True)
class CommonProgression:
    numerals: str  # one chord per bar, as typed with a key: "I V vi IV"
    minor: bool  # written for a minor key
    known_as: str

    @property
    def label(self) -> str:
        """"I–V–vi–IV": the numerals joined as musicians write them (a 12-bar form in full)."""
        return "–".join(self.numerals.split())

    def key_for(self, key: Key | None) -> Key:
        """The key the progression is rendered in for the key chosen (None: any)."""
        if key is None:
            return A_MINOR if self.minor else C_MAJOR
        if key.minor == self.minor:
            return key
        return Key((key.tonic + (-3 if self.minor else 3)) % 12, self.minor)  # the relative key

    def bars(self, key: Key | None) -> list:
        """The chords per bar in the key chosen (engine/progression.py's lists)."""
        return parse_progression(self.numerals, self.key_for(key))


COMMON_PROGRESSIONS: tuple[CommonProgression, ...] = (
    CommonProgression("I V vi IV", False, "pop"),
    CommonProgression("vi IV I V", False, "pop, minor feel"),
    CommonProgression("I vi IV V", False, "'50s"),
    CommonProgression("I IV V IV", False, "rock"),
    CommonProgression("I IV vi V", False, "pop ballad"),
    CommonProgression("ii7 V7 Imaj7 Imaj7", False, "jazz ii–V–I"),
    CommonProgression("I I I I IV IV I I V IV I V", False, "12-bar blues"),
    CommonProgression("i VI III VII", True, "epic"),
    CommonProgression("i iv v i", True, "minor"),
    CommonProgression("i VII VI V", True, "Andalusian cadence"),
    CommonProgression("i VI iv V", True, "minor ballad"),
)
