"""The sample sources' config: its JSON schema (the `spec`) and its validation (`check`, `read`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    specification = connection_specification(shape)
    if not _is_flat_integer_spec(specification):
        import jsonschema  # only for a spec beyond the subset below

        validator = jsonschema.Draft7Validator(specification)
        return sorted(
            f"{'.'.join(str(p) for p in error.absolute_path) or 'config'}: {error.message}"
            for error in validator.iter_errors(dict(raw))
        )
    return sorted(_flat_integer_problems(specification, raw))


# The spec above is a flat object of bounded integers. Validating that subset by hand keeps
# `jsonschema` (~0.3 s of CPU to import here) out of `check` and `read`; the messages are
# jsonschema's own (Draft 7), and a test compares both on a range of configs.
_SUBSET_KEYWORDS = {"type", "minimum", "maximum", "default", "description"}


def _is_flat_integer_spec(specification: Mapping[str, Any]) -> bool:
    properties = specification.get("properties", {})
    return (
        specification.get("type") == "object"
        and specification.get("additionalProperties") is False
        and set(specification)
        <= {"$schema", "title", "description", "type", "additionalProperties", "properties"}
        and all(
            prop.get("type") == "integer" and set(prop) <= _SUBSET_KEYWORDS for prop in properties.values()
        )
    )


def _flat_integer_problems(specification: Mapping[str, Any], raw: Mapping[str, Any]) -> list[str]:
    properties: Mapping[str, Mapping[str, Any]] = specification["properties"]
    problems = []
    extras = sorted((key for key in raw if key not in properties), key=str)
    if extras:
        verb = "was" if len(extras) == 1 else "were"
        unexpected = ", ".join(repr(extra) for extra in extras)
        problems.append(f"config: Additional properties are not allowed ({unexpected} {verb} unexpected)")
    for name, prop in properties.items():
        if name not in raw:
            continue
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{name}: {value!r} is not of type 'integer'")
            continue
        if isinstance(value, float) and not value.is_integer():
            problems.append(f"{name}: {value!r} is not of type 'integer'")
        if "minimum" in prop and value < prop["minimum"]:
            problems.append(f"{name}: {value!r} is less than the minimum of {prop['minimum']!r}")
        if "maximum" in prop and value > prop["maximum"]:
            problems.append(f"{name}: {value!r} is greater than the maximum of {prop['maximum']!r}")
    return problems


def parse_config(raw: Mapping[str, Any]) -> SampleConfig:
    """A config that `config_problems` accepted."""
    return SampleConfig(
        records=int(raw.get("records", DEFAULT_RECORDS)),
        seed=int(raw.get("seed", 0)),
        state_every=int(raw.get("state_every", DEFAULT_STATE_EVERY)),
        fail_after=None if raw.get("fail_after") is None else int(raw["fail_after"]),
    )
