"""Phrases' rolls held as bits: an eighth of the memory of the bool array they stand for.

A training set is mostly silence, one bit of it per cell, and a bool array spends a byte on
each: the LPD phrase pack of 14 MB on disk held 3.9 GiB as bools (512 MiB as bits). `PackedRolls` keeps the
bits, packed along the pitch axis (`np.packbits(..., axis=-1)`: a phrase's cells of one
step and track in ceil(pitches / 8) bytes), and unpacks only the phrases asked for:

    rolls[rows]            -> (len(rows), tracks, steps, pitches) bool
    rolls[row, track]      -> (steps, pitches) bool
    rolls.take(rows)       -> PackedRolls of those phrases, still packed
    np.asarray(rolls)      -> the whole bool array (for small sets)

Training unpacks each batch on its device (`unpack_torch`), so a GPU holds the bits too.
"""

from __future__ import annotations

import numpy as np

PACK_CHUNK = 512  # phrases unpacked at a time where a whole set is converted (a multiple of 8)


class PackedRolls:
    """(n, tracks, steps, pitches) bool rolls, stored as (n, tracks, steps, ceil(pitches / 8))
    uint8 bits. Indexing along the first axis (an int, a slice, rows, a bool mask), with more
    indices after it if wanted, gives unpacked bool arrays as numpy would."""

    dtype = np.dtype(bool)
    ndim = 4

    def __init__(self, bits: np.ndarray, n_pitches: int):
        if bits.dtype != np.uint8 or bits.ndim != 4 or bits.shape[3] != -(-n_pitches // 8):
            raise ValueError(f"bits of shape {bits.shape} ({bits.dtype}) do not hold {n_pitches} pitches")
        self.bits = bits
        self.n_pitches = n_pitches

    @classmethod
    def pack(cls, rolls: np.ndarray) -> PackedRolls:
        """From (n, tracks, steps, pitches) bool (or 0/1) rolls."""
        return cls(np.packbits(np.asarray(rolls, dtype=bool), axis=-1), rolls.shape[-1])

    @classmethod
    def concatenate(cls, parts: list[PackedRolls]) -> PackedRolls:
        return cls(np.concatenate([p.bits for p in parts]), parts[0].n_pitches)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (*self.bits.shape[:3], self.n_pitches)

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes

    def __len__(self) -> int:
        return len(self.bits)

    def __getitem__(self, key):
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        unpacked = np.unpackbits(self.bits[first], axis=-1, count=self.n_pitches).view(bool)
        if not rest:
            return unpacked
        # an int for the first axis removed it; the rest index what follows
        return unpacked[rest] if np.ndim(first) == 0 and not isinstance(first, slice) else unpacked[(slice(None), *rest)]

    def __array__(self, dtype=None, copy=None):
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def take(self, rows) -> PackedRolls:
        return PackedRolls(self.bits[rows], self.n_pitches)

    def flat_bits(self) -> np.ndarray:
        """`np.packbits(np.asarray(self).reshape(-1))`, a chunk of phrases at a time: the
        layout of a phrase pack's file."""
        return np.concatenate([np.packbits(self[start : start + PACK_CHUNK].reshape(-1))
                               for start in range(0, len(self), PACK_CHUNK)] or [np.zeros(0, np.uint8)])

    @classmethod
    def from_flat_bits(cls, flat: np.ndarray, shape: tuple[int, int, int, int]) -> PackedRolls:
        """The inverse of `flat_bits`, a chunk of phrases at a time (never the whole bool array)."""
        n, tracks, steps, pitches = shape
        per_phrase = tracks * steps * pitches  # bits; a chunk of PACK_CHUNK phrases ends on a byte
        bits = np.empty((n, tracks, steps, -(-pitches // 8)), dtype=np.uint8)
        for start in range(0, n, PACK_CHUNK):
            count = min(PACK_CHUNK, n - start)
            first_byte = start * per_phrase // 8
            chunk = np.unpackbits(flat[first_byte : first_byte + -(-count * per_phrase // 8)],
                                  count=count * per_phrase)
            bits[start : start + count] = np.packbits(chunk.reshape(count, tracks, steps, pitches), axis=-1)
        return cls(bits, pitches)


def unpack_torch(bits, n_pitches: int):
    """torch uint8 bits (..., ceil(pitches / 8)) -> 0/1 uint8 (..., pitches), on their device."""
    import torch

    shifts = torch.arange(7, -1, -1, dtype=torch.uint8, device=bits.device)  # packbits: first cell, high bit
    return ((bits.unsqueeze(-1) >> shifts) & 1).flatten(-2)[..., :n_pitches]
