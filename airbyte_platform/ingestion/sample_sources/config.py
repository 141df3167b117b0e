"""The sample sources' config: its JSON schema (the `spec`) and its validation (`check`, `read`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from airbyte_platform.ingestion.sample_sources.streams import Shape

MAX_RECORDS = 100_000_000
DEFAULT_RECORDS = 1_000
DEFAULT_STATE_EVERY = 10_000
DOCUMENTATION_URL = "https://docs.airbyte.com/understanding-airbyte/airbyte-protocol"


@dataclass(frozen=True)
class SampleConfig:
    records: int = DEFAULT_RECORDS
    seed: int = 0
    state_every: int = DEFAULT_STATE_EVERY
    fail_after: int | None = None


def connection_specification(shape: Shape) -> dict[str, Any]:
    scaled = [f"{s.name}: {s.size_note}" for s in shape.streams if s.size_note != "records"]
    size = "Records per stream" + (f" ({'; '.join(scaled)})" if scaled else "") + "."
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"Sample {shape.title} source",
        "description": (
            f"Deterministic {shape.title}-shaped records (streams: {', '.join(s.name for s in shape.streams)}); "
            "the same seed and records give byte-identical output."
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "records": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_RECORDS,
                "default": DEFAULT_RECORDS,
                "description": size,
            },
            "seed": {"type": "integer", "minimum": 0, "default": 0, "description": "Seed of every value."},
            "state_every": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_STATE_EVERY,
                "description": "Emit a STATE message after this many records of an incremental stream.",
            },
            "fail_after": {
                "type": "integer",
                "minimum": 0,
                "description": "Testing aid: exit with an error after emitting this many records in total.",
            },
        },
    }


def config_problems(shape: Shape, raw: Any) -> list[str]:
    """Every problem of `raw` against the spec, each naming the setting to fix."""
    if not isinstance(raw, Mapping):
        return [f"the config must be a JSON object, not {type(raw).__name__}"]
    validator = jsonschema.Draft7Validator(connection_specification(shape))
    return sorted(
        f"{'.'.join(str(p) for p in error.absolute_path) or 'config'}: {error.message}"
        for error in validator.iter_errors(dict(raw))
    )


def parse_config(raw: Mapping[str, Any]) -> SampleConfig:
    """A config that `config_problems` accepted."""
    return SampleConfig(
        records=int(raw.get("records", DEFAULT_RECORDS)),
        seed=int(raw.get("seed", 0)),
        state_every=int(raw.get("state_every", DEFAULT_STATE_EVERY)),
        fail_after=None if raw.get("fail_after") is None else int(raw["fail_after"]),
    )
