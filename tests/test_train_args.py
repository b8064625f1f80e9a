"""`train` and `eval` settings are checked right after parsing, by one rule set that the
wizard shares (engine/train.py: settings_problem): each bad value is one line naming its
flag, exit status 1, and nothing is read, written or trained first.

The commands run in this process (`bytes2beats.cli.main`): a refusal takes no time, and an
exception that escaped would fail the test as a traceback would in a terminal.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from bytes2beats.cli import main
from bytes2beats.engine.model_store import shipped_models_dir
from bytes2beats.engine.run_request import RunRequest

FIXTURES = Path(__file__).parent / "fixtures"
LPD = FIXTURES / "lpd"

BAD_TRAIN_VALUES = [
    # (flag, value, what the line says)
    ("--batch-size", "0", "--batch-size must be from 1 to 4096, not 0"),
    ("--batch-size", "-8", "--batch-size must be from 1 to 4096, not -8"),
    ("--n-critic", "0", "--n-critic must be from 1 to 100, not 0"),
    ("--n-critic", "-1", "--n-critic must be from 1 to 100, not -1"),
    ("--steps-per-beat", "0", "--steps-per-beat must be one of 1, 2, 3, 4, 6, 8, 12, 16, 24 or 48"),
    ("--steps-per-beat", "-4", "--steps-per-beat must be one of"),
    ("--steps-per-beat", "7", "--steps-per-beat must be one of"),
    ("--steps-per-beat", "96", "--steps-per-beat must be one of"),
    ("--bars-per-phrase", "0", "--bars-per-phrase must be from 1 to 32, not 0"),
    ("--bars-per-phrase", "1000000", "--bars-per-phrase must be from 1 to 32, not 1000000"),
    ("--width", "0", "--width must be from 1 to 512, not 0"),
    ("--width", "2500", "--width must be from 1 to 512, not 2500"),
    ("--checkpoint-every", "0", "--checkpoint-every must be from 1 to 1000000, not 0"),
    ("--sample-every", "0", "--sample-every must be from 1 to 1000000, not 0"),
    ("--sample-every", "-2", "--sample-every must be from 1 to 1000000, not -2"),
    ("--epochs", "0", "--epochs must be from 1 to 1000000, not 0"),
    ("--epochs", "-3", "--epochs must be from 1 to 1000000, not -3"),
    ("--g-lr", "nan", "--g-lr must be a finite number, not nan"),
    ("--g-lr", "inf", "--g-lr must be a finite number, not inf"),
    ("--g-lr", "-0.001", "--g-lr must be above 0 and at most 1, not -0.001"),
    ("--g-lr", "0", "--g-lr must be above 0 and at most 1, not 0"),
    ("--d-lr", "nan", "--d-lr must be a finite number, not nan"),
    ("--d-lr", "-1e-4", "--d-lr must be above 0 and at most 1, not -0.0001"),
    ("--gp-lambda", "nan", "--gp-lambda must be a finite number, not nan"),
    ("--gp-lambda", "-inf", "--gp-lambda must be a finite number, not -inf"),
    ("--gp-lambda", "-10", "--gp-lambda must be from 0 to 1000, not -10"),
    ("--transpose", "-1", "--transpose must be from 0 to 12, not -1"),
    ("--transpose", "13", "--transpose must be from 0 to 12, not 13"),
    ("--steps-per-epoch", "-1", "--steps-per-epoch must be from 0 to 1000000000, not -1"),
    ("--seed", "-1", "--seed must be from 0 to"),
    ("--chord-loss", "nan", "--chord-loss must be a finite number, not nan"),
]


def one_line(capsys, argv: list[str], command: str) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    line = err.strip()
    assert line.startswith(f"bytes2beats {command}: "), line
    return line


@pytest.mark.parametrize("flag, value, message", BAD_TRAIN_VALUES, ids=[f"{f} {v}" for f, v, _ in BAD_TRAIN_VALUES])
def test_a_bad_train_setting_is_one_line_before_anything_is_read_or_written(tmp_path, capsys, flag, value, message):
    out = tmp_path / "models" / "m.safetensors"
    argv = ["train", "--data", str(LPD), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), f"{flag}={value}"]
    line = one_line(capsys, argv, "train")
    assert line == f"bytes2beats train: {message}" or line.startswith(f"bytes2beats train: {message}"), line
    assert list(tmp_path.iterdir()) == []  # no model, no run folder, no cache: the songs were not even read


def test_settings_are_checked_before_the_data_is_looked_at(tmp_path, capsys):
    line = one_line(capsys, ["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.safetensors"),
                             "--epochs", "0"], "train")
    assert "--epochs must be" in line  # not "no such folder": nothing was read first


BAD_EVAL_VALUES = [
    ("--samples", "0", "--samples must be 1 or more, not 0"),
    ("--samples", "-5", "--samples must be 1 or more, not -5"),
    ("--novelty-samples", "-1", "--novelty-samples must be 0 or more, not -1"),
    ("--threshold", "nan", "--threshold must be between 0 and 1, not nan"),
    ("--threshold", "1", "--threshold must be between 0 and 1, not 1"),
    ("--seed", "-1", "--seed must be between 0 and 2147483647, not -1"),
]


@pytest.mark.parametrize("flag, value, message", BAD_EVAL_VALUES, ids=[f"{f} {v}" for f, v, _ in BAD_EVAL_VALUES])
def test_a_bad_eval_setting_is_one_line_before_anything_is_read(tmp_path, capsys, flag, value, message):
    argv = ["eval", "--model", str(shipped_models_dir() / "genres.safetensors"), "--data", str(LPD),
            "--cache-dir", str(tmp_path / "cache"), "--json", str(tmp_path / "out.json"), f"{flag}={value}"]
    assert one_line(capsys, argv, "eval") == f"bytes2beats eval: {message}"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------
# The wizard fills in the RunRequest the command line's flags are made from, checked by the same rules.

SPEC_FIELDS = {"--batch-size": "batch_size", "--n-critic": "n_critic", "--steps-per-beat": "steps_per_beat",
               "--bars-per-phrase": "bars_per_phrase", "--width": "width", "--checkpoint-every": "checkpoint_every",
               "--sample-every": "sample_every", "--epochs": "epochs", "--g-lr": "g_lr", "--d-lr": "d_lr",
               "--gp-lambda": "gp_lambda", "--transpose": "transpose", "--steps-per-epoch": "steps_per_epoch"}


def test_a_run_request_is_checked_by_the_command_lines_rules(tmp_path):
    spec = RunRequest(data=str(LPD), out=str(tmp_path / "m.safetensors"))
    assert spec.problem() is None  # the wizard's defaults train
    checked = 0
    for flag, value, message in BAD_TRAIN_VALUES:
        if flag not in SPEC_FIELDS:
            continue
        setting = next(f for f in fields(RunRequest) if f.name == SPEC_FIELDS[flag])
        kind = setting.metadata["type"] or type(setting.default)  # the flag's type
        bad = RunRequest(data=spec.data, out=spec.out, **{SPEC_FIELDS[flag]: kind(float(value))})
        assert bad.problem() is not None and bad.problem().startswith(message), (flag, value, bad.problem())
        checked += 1
    assert checked >= 25


def test_the_wizard_refuses_what_the_command_line_refuses(qtbot, tmp_path):
    from bytes2beats.desktop.wizard_plan import ScanResult, TrainingPlan
    from bytes2beats.desktop.wizard_settings_page import SettingsPage
    from bytes2beats.engine.dataset import PhraseSpec, build_phrases

    phrases = build_phrases(LPD / "rock", PhraseSpec(), cache_dir=tmp_path / "cache", workers=1)
    plan = TrainingPlan(models_dir=tmp_path / "models", cache_dir=tmp_path / "cache", data_folder=LPD / "rock",
                        scan=ScanResult(phrases, None, devices=[("cpu", "CPU")]))
    page = SettingsPage(plan)
    qtbot.addWidget(page)
    page.initializePage()
    page.batch.setValue(8)
    page.g_lr.setMinimum(0.0)  # a value its widget would not take: the engine's check still stands
    page.g_lr.setValue(0.0)
    assert not page.validatePage()
    assert page.error.text() == "These settings cannot train: --g-lr must be above 0 and at most 1, not 0"
    assert plan.job is None and not plan.models_dir.exists()
