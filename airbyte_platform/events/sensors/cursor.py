"""Sensor cursors are small JSON objects, so they stay readable in the UI and can be pinned in tests."""

from __future__ import annotations

from typing import Any

import orjson


class CursorError(ValueError):
    pass


def load_cursor(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise CursorError(f"sensor cursor {raw!r} is not JSON: reset the sensor's cursor in the UI") from None
    if not isinstance(value, dict):
        raise CursorError(f"sensor cursor {raw!r} is not a JSON object: reset the sensor's cursor in the UI")
    return value


def dump_cursor(value: dict[str, Any]) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
