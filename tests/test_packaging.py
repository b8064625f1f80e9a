"""The installable app: the wheel carries everything the app needs, and the frozen bundle runs.

The bundle is built here with packaging/build.sh (PyInstaller, about two minutes on two
cores), or taken from BYTES2BEATS_BUNDLE when that names a built `dist/bytes2beats` folder.
The frozen program is run the ways a user runs it: the command line, the window offscreen,
a training job started as the wizard starts one, the first run in a real window with no
DAW and no settings, and the Linux menu entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import mido
import pytest
from test_desktop_drag import TARGET, _line, drag, xvfb  # noqa: F401  (the Xvfb fixture)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def run(command, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def source_modules() -> set[str]:
    """Every module of the checkout as the wheel names it (app/ is bytes2beats/)."""
    names = {f"bytes2beats/{p.name}" for p in (ROOT / "app").glob("*.py")}
    for folder in ("engine", "desktop", "models", "resources"):
        names |= {f"bytes2beats/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / folder).rglob("*.py")}
    return names


# ---------------------------------------------------------------------------------------
# The wheel (pip install . and pipx install . both install it)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT], timeout=600)
    return next(out.glob("bytes2beats-*.whl"))


def test_the_wheel_carries_every_module_the_models_and_the_resources(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = source_modules() - names
    assert not missing, f"modules left out of the wheel: {sorted(missing)}"
    for shipped in (ROOT / "models").glob("*.safetensors"):
        assert f"bytes2beats/models/{shipped.name}" in names
        assert f"bytes2beats/models/{shipped.stem}.md" in names  # its card
    for resource in ("bytes2beats.svg", "bytes2beats.desktop", "icons/bytes2beats.ico", "icons/bytes2beats.icns",
                     "icons/hicolor/48x48/apps/bytes2beats.png", "icons/hicolor/256x256/apps/bytes2beats.png"):
        assert f"bytes2beats/resources/{resource}" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "bytes2beats = bytes2beats.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_wheel_generates_from_any_folder(wheel, tmp_path):
    site = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed package, not the checkout: PYTHONPATH comes before the editable install.
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = run([sys.executable, "-c", "import bytes2beats.engine.live.ports as m; print(m.__file__)"],
                cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).is_relative_to(site)
    run([sys.executable, site / "bin" / "bytes2beats", "generate", "--out", "clip.mid", "--seed", "3"],
        cwd=elsewhere, env=env)
    midi = mido.MidiFile(elsewhere / "clip.mid")
    names, families = [t.name for t in midi.tracks[1:]], ["Drums", "Piano", "Guitar", "Bass", "Strings"]
    # the tracks that play in the manner the clip drew (a phrase of the songs': three or more)
    assert len(names) >= 3 and names == [name for name in families if name in names]


# ---------------------------------------------------------------------------------------
# The frozen one-folder app


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("BYTES2BEATS_BUNDLE")
    if prebuilt:
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("bundle")
    run([ROOT / "packaging" / "build.sh", "--dist", out / "dist", "--work", out / "work"], timeout=1800)
    return out / "dist" / "bytes2beats"



@pytest.mark.slow
def test_the_frozen_program_says_its_version_and_finds_its_model(bundle, tmp_path):
    from bytes2beats import __version__

    program = bundle / "bytes2beats"
    assert run([program, "--version"]).stdout.strip() == f"bytes2beats {__version__}"
    info = run([program, "info"], env={**os.environ, "BYTES2BEATS_USER_MODELS": str(tmp_path)}).stdout
    assert f"[shipped] {bundle}/_internal/bytes2beats/models/rock.safetensors" in info


@pytest.mark.slow
def test_the_frozen_program_generates_a_clip(bundle, tmp_path):
    run([bundle / "bytes2beats", "generate", "--out", "clip.mid", "--bars", "8", "--seed", "5",
         "--image", "clip.png"], cwd=tmp_path)
    midi = mido.MidiFile(tmp_path / "clip.mid")
    # a track the model leaves silent for all 8 bars is not written: the rest, in family order
    families = ["Drums", "Piano", "Guitar", "Bass", "Strings"]
    names = [t.name for t in midi.tracks[1:]]
    assert midi.type == 1 and len(names) >= 3 and names == [f for f in families if f in names]
    assert all(any(m.type == "note_on" and m.velocity > 0 for m in t) for t in midi.tracks[1:])
    assert midi.length == pytest.approx(8 * 2.0)  # 8 bars of 4/4 at 120 BPM
    assert (tmp_path / "clip.png").stat().st_size > 1000


@pytest.mark.slow
def test_the_frozen_window_takes_a_screenshot_offscreen(bundle, tmp_path):
    from PIL import Image

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    run([bundle / "bytes2beats", "gui", "--screenshot", "shot.png"], cwd=tmp_path, env=env)
    with Image.open(tmp_path / "shot.png") as shot:
        assert shot.size == (1400, 860)
        assert len(shot.convert("RGB").getcolors(maxcolors=2**24)) > 20  # a drawn window, not a blank


@pytest.mark.slow
def test_the_frozen_program_runs_a_training_job_as_the_wizard_starts_one(bundle, tmp_path):
    # The wizard starts `sys.executable -m bytes2beats train ...`; frozen, sys.executable is
    # the bundle's program, and the launcher runs the module from inside the bundle.
    from bytes2beats.engine.model import load_model

    out = tmp_path / "tiny.safetensors"
    run([bundle / "bytes2beats", "-m", "bytes2beats", "train", "--data", FIXTURES / "lpd", "--out", out,
         "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4", "--width", "8",
         "--cache-dir", tmp_path / "cache"], timeout=600)
    generator, _ = load_model(out)
    assert generator.cfg.genres == ["pop", "rock"]


@pytest.mark.slow
def test_the_bundle_leaves_out_what_the_app_never_uses(bundle):
    internal = bundle / "_internal"
    for unneeded in ("torch/test", "torch/include", "scipy", "matplotlib", "tkinter", "PySide6/QtQml.abi3.so"):
        assert not (internal / unneeded).exists(), unneeded
    assert (internal / "torch" / "bin" / "torch_shm_manager").is_file()  # `import torch` needs it
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"bundle: {size / 2**20:.0f} MiB")


@pytest.mark.slow
@pytest.mark.external
def test_first_run_in_a_real_window_generates_and_drags_out_with_no_daw(bundle, xvfb, tmp_path):  # noqa: F811
    # A new user: no settings, no models of their own, no JACK or ALSA to play to. The
    # window opens at its default size with a clip of the shipped model; its "Drag MIDI"
    # grip and the Bass row's grip drop .mid files on another program.
    home = tmp_path / "home"
    home.mkdir()
    env = {**xvfb, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CACHE_HOME": str(home / ".cache")}
    env.pop("BYTES2BEATS_USER_MODELS", None)
    env.pop("JACK_DEFAULT_SERVER", None)
    (tmp_path / "target.py").write_text(TARGET)
    target = subprocess.Popen([sys.executable, str(tmp_path / "target.py")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    app = subprocess.Popen([str(bundle / "bytes2beats")], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        assert _line(target, 30) == "ready"
        title = ""
        for _ in range(120):  # the title names the clip once one is generated
            found = subprocess.run(["xdotool", "search", "--name", "seed .* Bytes to Beats"], env=env,
                                   capture_output=True, text=True)
            if found.returncode == 0:
                title = subprocess.run(["xdotool", "getwindowname", found.stdout.split()[0]], env=env,
                                       capture_output=True, text=True).stdout
                break
            assert app.poll() is None, app.stdout.read()
            time.sleep(0.5)
        assert "genres" in title, "no clip in the window within a minute"
        geometry = subprocess.run(["xdotool", "search", "--name", "seed .* Bytes to Beats", "getwindowgeometry"],
                                  env=env, capture_output=True, text=True).stdout
        assert "Geometry: 1320x800" in geometry  # the first run's size, which the grips' places assume

        # Generate (G, through the X server's keyboard): a new clip, named by its new seed
        window = found.stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True, timeout=10)
        subprocess.run(["xdotool", "key", "g"], env=env, check=True)
        for _ in range(60):
            renamed = subprocess.run(["xdotool", "getwindowname", window], env=env, capture_output=True,
                                     text=True).stdout
            if renamed.split(" seed ")[-1:] != title.split(" seed ")[-1:]:
                break
            time.sleep(0.5)
        assert renamed != title, "G made no new clip"

        drag(env, (1272, 34), (1700, 350))  # the toolbar's "Drag MIDI" (after Quantize): the whole clip
        clip = json.loads(_line(target, 30))
        # The whole clip: every part that plays, in the model's order (a seed is drawn at random,
        # and about one idea in 30 leaves the drums out, so no one part is asked for)
        families = ["Drums", "Piano", "Guitar", "Bass", "Strings"]
        assert clip["type"] == 1 and clip["notes"] > 0 and len(clip["tracks"]) > 1
        assert clip["tracks"] == [name for name in families if name in clip["tracks"]]
        # The fourth row's grip: one track. Rows are 32 px from y 84, one per family that plays
        # (the window folds a silent one away), so the fourth is the clip's fourth track.
        row = min(3, len(clip["tracks"]) - 1)
        drag(env, (356, 84 + 32 * row), (1700, 350))
        one = json.loads(_line(target, 30))
        assert one["tracks"] == [clip["tracks"][row]] and 0 < one["notes"] < clip["notes"]
    finally:
        for process in (app, target):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.slow
def test_the_linux_menu_entry_points_at_the_bundle(bundle, tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "share")}
    run([ROOT / "packaging" / "install-linux.sh", bundle], env=env)
    entry = (tmp_path / "share" / "applications" / "bytes2beats.desktop").read_text()
    fields = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line)
    assert fields["Exec"] == f'"{bundle / "bytes2beats"}" gui' and fields["Icon"] == "bytes2beats"
    assert (tmp_path / "share" / "icons" / "hicolor" / "256x256" / "apps" / "bytes2beats.png").is_file()
    link = tmp_path / ".local" / "bin" / "bytes2beats"
    assert run([link, "--version"]).stdout.startswith("bytes2beats ")
    run([ROOT / "packaging" / "install-linux.sh", "--uninstall"], env=env)
    assert not link.exists() and not (tmp_path / "share" / "applications" / "bytes2beats.desktop").exists()
