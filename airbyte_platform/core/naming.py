"""Asset-key naming for Airbyte streams: valid, stable and unique.

Dagster asset-key parts must match ``[A-Za-z0-9_]+``; Airbyte stream and connection names may hold
anything (spaces, dots, dashes, unicode, reserved words). Names are cleaned deterministically, and
when two different names clean to the same string a short hash of the original keeps them apart,
so a key never depends on the order in which names were seen.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

_NOT_ALLOWED = re.compile(r"[^a-z0-9_]+")


def clean_name(name: str) -> str:
    """`Account` -> `account`, `public.order-items` -> `public_order_items`, `1st` -> `_1st`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _NOT_ALLOWED.sub("_", ascii_name.lower()).strip("_")
    cleaned = re.sub(r"_+", "_", cleaned)
    if not cleaned:
        cleaned = "_" + _short_hash(name)
    if cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned


def _short_hash(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:6]


def unique_clean_names(names: Iterable[str]) -> dict[str, str]:
    """Map each original name to a cleaned name that no other name in `names` shares.

    Names whose cleaned form is unique keep it; colliding names all get a hash suffix of their
    original spelling, so adding a colliding name never renames one that was already suffixed
    and the mapping is independent of iteration order.
    """
    originals = sorted(set(names))
    by_clean: dict[str, list[str]] = {}
    for original in originals:
        by_clean.setdefault(clean_name(original), []).append(original)
    result: dict[str, str] = {}
    for cleaned, group in by_clean.items():
        for original in group:
            result[original] = cleaned if len(group) == 1 else f"{cleaned}_{_short_hash(original)}"
    return result
