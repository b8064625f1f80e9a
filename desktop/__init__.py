"""The desktop app (PySide6 + pyqtgraph): one module per window, widget or dialog.

The main window, as the data flows:
- `clip_state`: a generated clip (noise, probabilities, threshold) and the undo history, no Qt;
- `clip_document`: the open clip, its mix, recent clips and A/B, with the signals views follow;
- `background`: the one way work leaves the GUI thread (`BackgroundCall`: a pool thread,
  progress, done and failed back as signals);
- `model_worker`: model work on a one-thread pool of BackgroundCalls, in order, reporting by
  signals (torch loads there);
- `live_player`: Play/Stop through the engine's LiveSession, events back as signals;
- `chord_setting`: the chords and key asked for, carried by each clip, no Qt;
- views: `pianoroll_view` (with `pianoroll_layout` and `gm_names`), `chord_bar` (the key box
  and `chord_lane` above the canvas; `common_progressions` for its menu), `track_panel`,
  `generate_toolbar`, `clip_list`, `status_bar` (with `training_status`: a run of the
  user's, and the way back to its wizard), `playback_menu`, `drag_export`,
  `fluidsynth_preview`, `theme`; `window_actions` holds the actions and menus;
- `main_window` wires them; `app` starts it all (and `--screenshot`).
The training wizard is `training_wizard` and its `wizard_*` pages.
"""
