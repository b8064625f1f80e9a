"""The quality targets a shipped model must meet, checked against an `evaluate` result.

Each target compares the generated set with the validation songs (the data the model never
saw), as issue 3 states them: empty bars within 5 points of the data's for every track;
qualified notes at least 80% for every pitched track; drum pattern at least 85%; used pitch
classes within 0.5 of the data's for every pitched track; tonal distance of every pair no
higher than the data's with tracks shuffled between songs (MuseGAN's table 2); polyphonic
rate within 10% of the data's for every track; no copying (no generated phrase shares more
than 90% of its notes with one training phrase); and at least 20,000 generated bars.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

MIN_BARS = 20_000


@dataclass(frozen=True)
class Check:
    target: str  # what is measured, e.g. "EB Bass"
    measured: float | None
    wanted: str  # the bound, in words, e.g. "7.7 +- 5"
    met: bool


def check_targets(result: dict) -> list[Check]:
    """Every target, met or not; an empty list when the result has no validation set."""
    sets = result["sets"]
    if "validation" not in sets or "generated" not in sets:
        return []
    gen, val = sets["generated"], sets["validation"]
    checks: list[Check] = []

    def within(metric: str, track: str, tolerance: float, relative: bool = False) -> None:
        g, v = gen[metric].get(track), val[metric].get(track)
        if v is None:
            return  # the data never plays this track: nothing to match
        bound = tolerance * v if relative else tolerance
        wanted = f"{v:.3g} +- {100 * tolerance:.0f}%" if relative else f"{v:.3g} +- {tolerance:g}"
        checks.append(Check(f"{metric} {track}", g, wanted, g is not None and abs(g - v) <= bound))

    for track in gen["EB"]:
        within("EB", track, 5.0)
    for track, q in gen["QN"].items():
        checks.append(Check(f"QN {track}", q, ">= 80", q is not None and q >= 80.0))
    if "DP" in gen:
        checks.append(Check("DP", gen["DP"], ">= 85", gen["DP"] is not None and gen["DP"] >= 85.0))
    for track in gen["UPC"]:
        within("UPC", track, 0.5)
    shuffled = result.get("TD_shuffled_validation", {})
    for pair, td in gen["TD"].items():
        baseline = shuffled.get(pair)
        if baseline is not None:
            checks.append(Check(f"TD {pair}", td, f"<= {baseline:.3g} (shuffled)", td is not None and td <= baseline))
    for track in gen["polyphonic_rate"]:
        within("polyphonic_rate", track, 0.10, relative=True)
    novelty = result["novelty"]
    checks.append(Check("phrases over 90% like a training phrase", novelty["over_90_percent"],
                        f"0 of {novelty['samples']}", novelty["over_90_percent"] == 0))
    bars = gen["phrases"] * result["resolution"]["bars"]
    checks.append(Check("generated bars measured", bars, f">= {MIN_BARS:,}", bars >= MIN_BARS))
    return checks


def targets_json(checks: list[Check]) -> dict:
    return {"met": sum(c.met for c in checks), "of": len(checks), "checks": [asdict(c) for c in checks]}


def format_checks(checks: list[Check]) -> str:
    """A table of the targets, one per line, the missed ones marked."""
    if not checks:
        return "targets: not checked (no validation songs)"
    width = max(len(c.target) for c in checks)
    lines = [f"targets: {sum(c.met for c in checks)} of {len(checks)} met"]
    for c in checks:
        measured = "-" if c.measured is None else f"{c.measured:.3g}"
        lines.append(f"  {'ok  ' if c.met else 'MISS'}  {c.target.ljust(width)}  {measured:>8}  wanted {c.wanted}")
    return "\n".join(lines)
