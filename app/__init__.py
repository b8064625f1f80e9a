"""Bytes to Beats: multi-track music ideas from a self-attention WGAN-GP, for your DAW."""

__version__ = "0.1.0"
