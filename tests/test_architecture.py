"""The architecture's rules, checked: the engine knows nothing of Qt."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold(tmp_path):
    # import-linter finds packages on sys.path, not through the editable install's mapping
    # of engine/ and desktop/ into bytes2beats: lay the package out as installed, by links.
    package = tmp_path / "bytes2beats"
    package.mkdir()
    for module in (ROOT / "app").glob("*.py"):
        (package / module.name).symlink_to(module)
    for folder in ("engine", "desktop", "models", "resources"):
        (package / folder).symlink_to(ROOT / folder)
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "Contracts: 2 kept, 0 broken" in run.stdout


def test_no_engine_module_names_qt_even_lazily():
    pattern = re.compile(r"^\s*(import|from)\s+(PySide6|pyqtgraph|PyQt\d)", re.M)
    offenders = [p.name for p in (ROOT / "engine").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
