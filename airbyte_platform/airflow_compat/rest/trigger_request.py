"""The body of `POST /dags/{dag_id}/dagRuns`, validated as Airflow validates it.

Airflow's rules kept: only writable DAGRun fields are accepted (others are "Unknown field."),
`conf` is an object, `logical_date` and the deprecated `execution_date` must agree, a caller's
`dag_run_id` must match Airflow's default `allowed_run_id_pattern`, and without one the id is
`manual__<logical date>`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airbyte_platform.airflow_compat.rest.problems import ApiProblem

WRITABLE_FIELDS = frozenset(
    {
        "dag_run_id",
        "logical_date",
        "execution_date",
        "conf",
        "note",
        "data_interval_start",
        "data_interval_end",
    }
)
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]+$")  # Airflow's [scheduler] allowed_run_id_pattern
MAX_CONF_BYTES = 64 * 1024  # kept in a run tag; a conf this large belongs in a file the job reads


@dataclass(frozen=True)
class TriggerRequest:
    dag_run_id: str
    logical_date: datetime
    conf: dict[str, Any]
    note: str | None


def parse_datetime(field: str, raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise ApiProblem(400, f"{{'{field}': ['Not a valid datetime.']}}")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiProblem(
            400, f"{{'{field}': ['Not a valid datetime.']}} (use ISO 8601, e.g. 2026-01-01T00:00:00+00:00)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_trigger_request(body: Any, now: datetime) -> TriggerRequest:
    if not isinstance(body, dict):
        raise ApiProblem(400, "Request body must be a JSON object (a DAGRun).")
    unknown = sorted(set(body) - WRITABLE_FIELDS)
    if unknown:
        raise ApiProblem(400, str({name: ["Unknown field."] for name in unknown}))

    logical = body.get("logical_date")
    execution = body.get("execution_date")
    logical_date = parse_datetime("logical_date", logical) if logical is not None else None
    execution_date = parse_datetime("execution_date", execution) if execution is not None else None
    if logical_date and execution_date and logical_date != execution_date:
        raise ApiProblem(400, "logical_date conflicts with execution_date")
    when = (logical_date or execution_date or now).astimezone(UTC)

    conf = body.get("conf")
    if conf is None:
        conf = {}
    if not isinstance(conf, dict):
        raise ApiProblem(400, "{'conf': ['Not a valid mapping type.']} (conf must be a JSON object)")
    if len(json.dumps(conf)) > MAX_CONF_BYTES:
        raise ApiProblem(
            400, f"conf is larger than {MAX_CONF_BYTES} bytes; pass a reference to the data instead"
        )

    run_id = body.get("dag_run_id")
    if run_id is None:
        run_id = f"manual__{when.isoformat()}"
    elif not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise ApiProblem(
            400,
            f"The provided run ID '{run_id}' is invalid. It does not match the configured pattern: "
            f"'{RUN_ID_PATTERN.pattern}'",
        )

    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise ApiProblem(400, "{'note': ['Not a valid string.']}")
    return TriggerRequest(dag_run_id=run_id, logical_date=when, conf=conf, note=note)
