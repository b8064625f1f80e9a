"""The window's actions (each with its shortcut and tooltip) and the menus that hold them."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from .playback_menu import PlaybackMenu


def make_action(window, text: str, shortcut, tip: str, slot, checkable: bool = False) -> QAction:
    """An action on the window (so its shortcut works anywhere in it), its key in the tooltip."""
    action = QAction(text, window)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
        tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.setCheckable(checkable)
    (action.toggled if checkable else action.triggered).connect(slot)
    window.addAction(action)
    return action


def make_actions(window) -> dict[str, QAction]:
    doc = window.document
    specs = {
        "generate": ("Generate", "G", "A new clip from a new seed", window.generate),
        "variation": ("Variation", "V", "A clip a small step away from this one", window.vary),
        "play": ("Play", "Space", "Loop the clip to the MIDI port", window.toggle_play),
        "jam": ("Jam", "J", "Play your looped part (on the focused track) into the 'Bytes to Beats jam' input: "
                "the other tracks play along from its second pass", window.toggle_jam),
        "export": ("Export…", "Ctrl+E", "Save the clip as a MIDI file", lambda: window.export()),
        "undo": ("Undo", QKeySequence.StandardKey.Undo, "Back to the clip before", doc.undo),
        "redo": ("Redo", "Ctrl+Shift+Z", "Forward to the clip after", doc.redo),
        "mute": ("Mute focused track", "M", "Mute or unmute the focused track",
                 lambda: doc.toggle_mute(doc.focus)),
        "solo": ("Solo focused track", "S", "Solo or unsolo the focused track",
                 lambda: doc.toggle_solo(doc.focus)),
        "regenerate": ("Regenerate focused track", "R", "New notes for the focused track alone",
                       lambda: window.regenerate(doc.focus)),
        "ab": ("A/B", "B", "Switch between clip A and clip B", doc.toggle_ab),
        "fit": ("Show whole clip", "F", "Zoom to the whole clip", lambda: window.canvas.fit()),
        "preview": ("Preview", "P", "Hear the clip through FluidSynth (no DAW needed)", window.toggle_preview),
        "train": ("Train a model…", None, "Train your own model on a folder of songs", window.open_training_wizard),
        "quit": ("Quit", QKeySequence.StandardKey.Quit, "Close Bytes to Beats", window.close),
    }
    actions = {key: make_action(window, *spec) for key, spec in specs.items()}
    actions["overlay"] = make_action(window, "Overlay", "O",
                                     "Overlay all tracks on one pitch axis, the focused one on top",
                                     lambda on: window.canvas.set_overlay(on), checkable=True)
    actions["empty"] = make_action(window, "Show empty tracks", None,
                                   "Show the rows and lanes of the tracks that play no note in the clip "
                                   "(folded away otherwise)",
                                   lambda on: window.document.set_show_empty(on), checkable=True)
    for key in ("generate", "variation", "regenerate", "export", "undo", "redo", "ab"):
        actions[key].setEnabled(False)
    return actions


def make_menus(window) -> PlaybackMenu:
    """File, Edit, Clip, Tools, View and Playback; returns the Playback menu."""
    bar, a = window.menuBar(), window.commands
    bar.addMenu("&File").addActions([a["export"], a["quit"]])
    bar.addMenu("&Edit").addActions([a["undo"], a["redo"]])
    clip = bar.addMenu("&Clip")
    clip.addActions([a["generate"], a["variation"], a["regenerate"], a["mute"], a["solo"], a["ab"]])
    clip.addSeparator()
    clip.addMenu(window.takes_menu)
    bar.addMenu("&Tools").addAction(a["train"])
    view = bar.addMenu("&View")
    view.addActions([a["overlay"], a["empty"], a["fit"]])
    themes = view.addMenu("Theme")
    group = QActionGroup(window)
    for mode in ("system", "light", "dark"):
        action = themes.addAction(mode.capitalize())
        action.setCheckable(True)
        action.setChecked(mode == window.theme_mode)
        action.triggered.connect(lambda _=False, m=mode: window.set_theme(m))
        group.addAction(action)
    a["preview"].setVisible(window.preview is not None)
    playback = PlaybackMenu(window.player, window.settings, [a["play"], a["jam"], a["preview"]], window)
    bar.addMenu(playback)
    return playback
