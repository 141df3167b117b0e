"""Building blocks shared by the shapes: timelines, people, companies, places."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

from airbyte_platform.ingestion.sample_sources import vocabulary
from airbyte_platform.ingestion.sample_sources.dice import Dice
from airbyte_platform.ingestion.sample_sources.lazy import numpy as np

DAY_SECONDS = 86_400

_STATE = [c[2] for c in vocabulary.CITIES]


@dataclass(frozen=True)
class _Words:
    """The vocabularies as numpy object arrays, for fancy indexing by per-record picks."""

    first: np.ndarray
    last: np.ndarray
    first_lower: np.ndarray
    last_lower: np.ndarray
    domains: np.ndarray
    city: np.ndarray
    country: np.ndarray
    has_state: np.ndarray
    company: np.ndarray
    suffix: np.ndarray
    streets: np.ndarray


@cache
def _words() -> _Words:
    """Built on first use, not at import: `spec`/`check`/`discover` never load numpy (see `lazy.py`)."""

    def texts(values: list[str] | tuple[str, ...]) -> np.ndarray:
        return np.asarray(values, dtype=object)

    return _Words(
        first=texts(vocabulary.FIRST_NAMES),
        last=texts(vocabulary.LAST_NAMES),
        first_lower=texts([n.lower() for n in vocabulary.FIRST_NAMES]),
        last_lower=texts([n.lower() for n in vocabulary.LAST_NAMES]),
        domains=texts(vocabulary.EMAIL_DOMAINS),
        city=texts([c[0] for c in vocabulary.CITIES]),
        country=texts([c[1] for c in vocabulary.CITIES]),
        has_state=np.array([state is not None for state in _STATE]),
        company=texts(vocabulary.COMPANY_WORDS),
        suffix=texts(vocabulary.COMPANY_SUFFIXES),
        streets=texts(vocabulary.STREETS),
    )


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
        return self.dice.pick_index(f"{self.kind}/first", len(_words().first))

    @cached_property
    def _last(self) -> np.ndarray:
        return self.dice.pick_index(f"{self.kind}/last", len(_words().last))

    @cached_property
    def first(self) -> np.ndarray:
        return _words().first[self._first]

    @cached_property
    def last(self) -> np.ndarray:
        return _words().last[self._last]

    @cached_property
    def name(self) -> np.ndarray:
        return self.first + " " + self.last

    @cached_property
    def email(self) -> np.ndarray:
        words = _words()
        domain = words.domains[self.dice.pick_index(f"{self.kind}/domain", len(words.domains))]
        number = self.dice.index.astype(str).astype(object)
        return words.first_lower[self._first] + "." + words.last_lower[self._last] + number + "@" + domain

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
    words = _words()
    word = words.company[dice.pick_index(f"{kind}/word", len(words.company))]
    suffix = words.suffix[dice.pick_index(f"{kind}/suffix", len(words.suffix))]
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
        return self.dice.pick_index(f"{self.kind}/city", len(_words().city))

    @cached_property
    def city(self) -> np.ndarray:
        return _words().city[self._which]

    @cached_property
    def country(self) -> np.ndarray:
        return _words().country[self._which]

    @cached_property
    def state(self) -> list[str | None]:
        return [_STATE[i] for i in self._which.tolist()]

    @cached_property
    def has_state(self) -> np.ndarray:
        return _words().has_state[self._which]

    @cached_property
    def line1(self) -> np.ndarray:
        number = self.dice.integers(f"{self.kind}/street_number", 1, 999).astype(str).astype(object)
        streets = _words().streets
        return number + " " + streets[self.dice.pick_index(f"{self.kind}/street", len(streets))]

    @cached_property
    def postal_code(self) -> np.ndarray:
        code = self.dice.integers(f"{self.kind}/postal", 1000, 99_999).astype(str)
        return np.char.zfill(code, 5).astype(object)


def places(dice: Dice, kind: str) -> Places:
    return Places(dice, kind)
