"""The engine: music data, the model, training, generation and MIDI streaming.

Nothing here imports Qt; the desktop talks to the engine through plain objects.
"""
