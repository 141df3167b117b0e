"""Building blocks shared by the shapes: timelines, people, companies, places."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from airbyte_platform.ingestion.sample_sources import vocabulary
from airbyte_platform.ingestion.sample_sources.dice import Dice

DAY_SECONDS = 86_400

_FIRST = np.asarray(vocabulary.FIRST_NAMES, dtype=object)
_LAST = np.asarray(vocabulary.LAST_NAMES, dtype=object)
_FIRST_LOWER = np.asarray([n.lower() for n in vocabulary.FIRST_NAMES], dtype=object)
_LAST_LOWER = np.asarray([n.lower() for n in vocabulary.LAST_NAMES], dtype=object)
_DOMAINS = np.asarray(vocabulary.EMAIL_DOMAINS, dtype=object)
_CITY = np.asarray([c[0] for c in vocabulary.CITIES], dtype=object)
_COUNTRY = np.asarray([c[1] for c in vocabulary.CITIES], dtype=object)
_STATE = [c[2] for c in vocabulary.CITIES]
_HAS_STATE = np.array([state is not None for state in _STATE])
_COMPANY = np.asarray(vocabulary.COMPANY_WORDS, dtype=object)
_SUFFIX = np.asarray(vocabulary.COMPANY_SUFFIXES, dtype=object)
_STREETS = np.asarray(vocabulary.STREETS, dtype=object)


def timeline(dice: Dice, *, base: int, step: int, window: tuple[float, float], purpose: str) -> np.ndarray:
    """`base + index * step + jitter`, the jitter within `window` (fractions of `step`): strictly increasing.

    Streams of a shape share `base` and `step` and use disjoint windows, so the i-th record of a child
    stream comes after the i-th record of its parent stream.
    """
    low, high = window
    jitter = ((low + dice.uniform(purpose) * (high - low)) * step).astype(np.int64)
    return base + dice.index * step + jitter


class People:
    """Persons of the records `dice.index`, derived from (seed, kind, index) only; each attribute
    is computed on first use (object arrays), since most streams need only a few of them."""

    def __init__(self, dice: Dice, kind: str):
        self.dice = dice
        self.kind = kind

    @cached_property
    def _first(self) -> np.ndarray:
        return self.dice.pick_index(f"{self.kind}/first", len(_FIRST))

    @cached_property
    def _last(self) -> np.ndarray:
        return self.dice.pick_index(f"{self.kind}/last", len(_LAST))

    @cached_property
    def first(self) -> np.ndarray:
        return _FIRST[self._first]

    @cached_property
    def last(self) -> np.ndarray:
        return _LAST[self._last]

    @cached_property
    def name(self) -> np.ndarray:
        return self.first + " " + self.last

    @cached_property
    def email(self) -> np.ndarray:
        domain = _DOMAINS[self.dice.pick_index(f"{self.kind}/domain", len(_DOMAINS))]
        number = self.dice.index.astype(str).astype(object)
        return _FIRST_LOWER[self._first] + "." + _LAST_LOWER[self._last] + number + "@" + domain

    @cached_property
    def has_phone(self) -> np.ndarray:
        return self.dice.chance(f"{self.kind}/has_phone", 0.6)

    @cached_property
    def phone(self) -> np.ndarray:
        digits = self.dice.integers(f"{self.kind}/phone", 0, 10_000_000).astype(str)
        return np.char.add("+1555", np.char.zfill(digits, 7)).astype(object)


def people(dice: Dice, kind: str) -> People:
    return People(dice, kind)


def company_names(dice: Dice, kind: str) -> np.ndarray:
    word = _COMPANY[dice.pick_index(f"{kind}/word", len(_COMPANY))]
    suffix = _SUFFIX[dice.pick_index(f"{kind}/suffix", len(_SUFFIX))]
    return word + " " + suffix + " " + (dice.index + 1).astype(str).astype(object)


def domains(names: np.ndarray) -> list[str]:
    return [name.lower().replace(" ", "-") + ".example" for name in names.tolist()]


class Places:
    """Postal addresses of the records `dice.index`, computed on first use like People."""

    def __init__(self, dice: Dice, kind: str):
        self.dice = dice
        self.kind = kind

    @cached_property
    def _which(self) -> np.ndarray:
        return self.dice.pick_index(f"{self.kind}/city", len(_CITY))

    @cached_property
    def city(self) -> np.ndarray:
        return _CITY[self._which]

    @cached_property
    def country(self) -> np.ndarray:
        return _COUNTRY[self._which]

    @cached_property
    def state(self) -> list[str | None]:
        return [_STATE[i] for i in self._which.tolist()]

    @cached_property
    def has_state(self) -> np.ndarray:
        return _HAS_STATE[self._which]

    @cached_property
    def line1(self) -> np.ndarray:
        number = self.dice.integers(f"{self.kind}/street_number", 1, 999).astype(str).astype(object)
        return number + " " + _STREETS[self.dice.pick_index(f"{self.kind}/street", len(_STREETS))]

    @cached_property
    def postal_code(self) -> np.ndarray:
        code = self.dice.integers(f"{self.kind}/postal", 1000, 99_999).astype(str)
        return np.char.zfill(code, 5).astype(object)


def places(dice: Dice, kind: str) -> Places:
    return Places(dice, kind)
