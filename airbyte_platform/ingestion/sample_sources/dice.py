"""Deterministic randomness per record index, vectorized with numpy.

Every random attribute of a record is a hash of (seed, purpose, record index), never a draw from a
stateful generator: record i is the same whatever the requested size, wherever a read starts
(incremental reads skip straight to their first record), and a related record in another stream
can be re-derived from its index alone (a charge can compute its customer's name).
The hash is splitmix64's finalizer, a bijection on 64-bit integers, so it also makes unique ids.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from airbyte_platform.ingestion.sample_sources.lazy import numpy as np

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_DIGITS_OF_U64 = 11  # 62**11 > 2**64
_SALESFORCE_CHECKSUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


@cache
def _ascii_table(characters: bytes) -> np.ndarray:
    """A lookup table of ASCII codes, built on first use: nothing here touches numpy at import time
    (see `lazy.py`)."""
    return np.frombuffer(characters, dtype=np.uint8)


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer on a uint64 array (wrapping arithmetic): a bijection with good avalanche."""
    x = values ^ (values >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _purpose_key(seed: int, purpose: str) -> np.uint64:
    mixed = mix64(np.array([(seed * _GOLDEN + zlib.crc32(purpose.encode())) & _MASK], dtype=np.uint64))
    return mixed[0]


@dataclass(frozen=True)
class Dice:
    """Random draws for the records `index` (int64 array) of a source seeded with `seed`."""

    seed: int
    index: np.ndarray

    def at(self, index: np.ndarray) -> Dice:
        """The same seed for other records: to re-derive a related record's attributes."""
        return Dice(self.seed, index)

    def bits(self, purpose: str) -> np.ndarray:
        """64 random bits per record, unique per record for a given purpose (mix64 is a bijection)."""
        with np.errstate(over="ignore"):
            spread = self.index.astype(np.uint64) * np.uint64(_GOLDEN)
            return mix64(spread ^ _purpose_key(self.seed, purpose))

    def uniform(self, purpose: str) -> np.ndarray:
        """Floats in [0, 1)."""
        return (self.bits(purpose) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def integers(self, purpose: str, low: int, high: int) -> np.ndarray:
        """Integers in [low, high)."""
        return low + (self.uniform(purpose) * (high - low)).astype(np.int64)

    def chance(self, purpose: str, probability: float) -> np.ndarray:
        return self.uniform(purpose) < probability

    def pick(
        self, purpose: str, options: Sequence[str], weights: Sequence[float] | None = None
    ) -> np.ndarray:
        """One of `options` per record (an object array), uniformly or by relative `weights`."""
        return np.asarray(options, dtype=object)[self.pick_index(purpose, len(options), weights)]

    def pick_index(self, purpose: str, count: int, weights: Sequence[float] | None = None) -> np.ndarray:
        if weights is None:
            return self.integers(purpose, 0, count)
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        chosen = np.searchsorted(cumulative / cumulative[-1], self.uniform(purpose), side="right")
        return np.minimum(chosen, count - 1)

    def earlier(self, purpose: str, scale: float = 1.0) -> np.ndarray:
        """An index in [0, index * scale]: a related record that already existed (a charge's customer)."""
        upper = np.floor(self.index * scale).astype(np.int64) + 1
        return (self.uniform(purpose) * upper).astype(np.int64)


def base62(values: np.ndarray, width: int, prefix: str = "") -> list[str]:
    """`prefix` + fixed-width base-62 text of non-negative integers (most significant digit first)."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    text = np.empty((len(values), len(head) + width), dtype=np.uint8)
    text[:, : len(head)] = head
    remaining = values.astype(np.uint64)
    digits = _ascii_table(_BASE62)
    for position in range(text.shape[1] - 1, len(head) - 1, -1):
        text[:, position] = digits[(remaining % np.uint64(62)).astype(np.intp)]
        remaining = remaining // np.uint64(62)
    return _rows_as_strings(text)


def random_ids(prefix: str, dice: Dice, purpose: str) -> list[str]:
    """Stripe-style ids (`cus_` + 14 characters), unique per record index: 3 seed characters + 11 hashed.

    The same `purpose` gives the same ids whatever the prefix (a receipt URL ending in its charge id).
    """
    tag = base62(np.array([_purpose_key(dice.seed, purpose + "/tag")], dtype=np.uint64), 3)[0]
    return base62(dice.bits(purpose), _BASE62_DIGITS_OF_U64, prefix + tag)


def salesforce_ids(key_prefix: str, index: np.ndarray) -> list[str]:
    """Valid 18-character Salesforce ids: key prefix, pod, sequential record number, case-safe checksum."""
    fifteen = [f"{key_prefix}5g00{body}" for body in base62(index + 1, 8)]
    text = np.frombuffer("".join(fifteen).encode("ascii"), dtype=np.uint8).reshape(len(fifteen), 15)
    uppercase = ((text >= ord("A")) & (text <= ord("Z"))).reshape(len(fifteen), 3, 5)
    checksum = _ascii_table(_SALESFORCE_CHECKSUM)[(uppercase * (1 << np.arange(5))).sum(axis=2)]
    return [head + tail for head, tail in zip(fifteen, _rows_as_strings(checksum), strict=True)]


def _rows_as_strings(matrix: np.ndarray) -> list[str]:
    """Each row of an (n, width) matrix of ASCII codes as a str: viewed as numpy unicode (UCS-4)
    and converted in C, ~5x faster than slicing a decoded string in Python."""
    width = matrix.shape[1]
    return np.ascontiguousarray(matrix, dtype=np.uint32).view(f"U{width}").ravel().tolist()
