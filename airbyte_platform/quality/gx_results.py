"""A checkpoint's results as one `gx_suite` check result per stream.

Each stream's result carries what a reviewer needs without opening GX: the checkpoint, each
expectation (type, column, success, observed value, unexpected count) and a bounded sample of the
failing rows (their values and, when the checkpoint names identifying columns, their keys).
Validations are matched to streams by data asset name; a stream the checkpoint does not validate
gets a warning, not a pass.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec
from airbyte_platform.quality.gx_checkpoints import FAILING_ROWS_SAMPLE, CheckpointRun, stream_asset_aliases

CHECK_NAME = "gx_suite"


def _json_safe(value: Any) -> Any:
    """Values as JSON metadata can hold them (timestamps, numpy numbers, decimals become text or numbers)."""
    return json.loads(json.dumps(value, default=str))


def _batch_field(validation: Any, name: str) -> str:
    batch = validation.meta.get("active_batch_definition") or {}
    value = batch.get(name) if isinstance(batch, dict) else getattr(batch, name, None)
    return str(value or "")


def _asset_name(validation: Any) -> str:
    return _batch_field(validation, "data_asset_name")


def _validates(run: CheckpointRun, validation: Any, connection: ConnectionSpec, stream: StreamSpec) -> bool:
    """Whether `validation` is of this stream: its data asset's name, on a data source of the
    connection's destination kind (a PostgreSQL `charges` is not the lake's `charges`)."""
    if _asset_name(validation).lower() not in stream_asset_aliases(connection, stream):
        return False
    kind = run.asset_destinations.get((_batch_field(validation, "datasource_name"), _asset_name(validation)))
    return kind is None or kind == connection.destination


def _exception_message(info: Any) -> str | None:
    """GX's exception info: flat for the expectation, or keyed by the metric that raised."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception") or info.get("exception_message"):
        return str(info.get("exception_message"))[:500] if info.get("exception_message") else None
    for nested in info.values():
        if message := _exception_message(nested):
            return message
    return None


def expectation_summary(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    details = result.result or {}
    summary: dict[str, Any] = {
        "type": config.type,
        "column": config.kwargs.get("column"),
        "success": bool(result.success),
        "observed_value": details.get("observed_value"),
    }
    if "unexpected_count" in details:
        summary["unexpected_count"] = details.get("unexpected_count")
        summary["unexpected_percent"] = details.get("unexpected_percent")
    if message := _exception_message(result.exception_info):
        summary["exception"] = message
    return summary


def failing_rows(result: Any) -> dict[str, Any] | None:
    """A bounded sample of the rows an expectation rejected: values, and keys or row positions."""
    if result.success:
        return None
    details = result.result or {}
    rows = details.get("unexpected_index_list") or details.get("partial_unexpected_index_list")
    values = details.get("partial_unexpected_list")
    if rows is None and values is None:
        return None
    return {
        "expectation": result.expectation_config.type,
        "column": result.expectation_config.kwargs.get("column"),
        "unexpected_count": details.get("unexpected_count"),
        "unexpected_values": (values or [])[:FAILING_ROWS_SAMPLE],
        "unexpected_rows": (rows or [])[:FAILING_ROWS_SAMPLE],
        **(
            {"key_columns": details["unexpected_index_column_names"]}
            if details.get("unexpected_index_column_names")
            else {}
        ),
    }


def _failure_label(summary: dict[str, Any]) -> str:
    column = summary.get("column")
    unexpected = summary.get("unexpected_count")
    return (
        summary["type"]
        + (f"({column})" if column else "")
        + (f": {unexpected} unexpected" if unexpected is not None else "")
        + (f": {summary['exception']}" if summary.get("exception") else "")
    )


def stream_check_results(
    connection: ConnectionSpec, streams: list[StreamSpec], run: CheckpointRun
) -> dict[str, dg.AssetCheckResult]:
    """One check result per stream name, from the checkpoint's validations of that stream."""
    validations = list(run.result.run_results.values()) if run.result is not None else []
    by_stream: dict[str, list[Any]] = {stream.name: [] for stream in streams}
    for validation in validations:
        for stream in streams:
            if _validates(run, validation, connection, stream):
                by_stream[stream.name].append(validation)
    validated = sorted({f"{_batch_field(v, 'datasource_name')}/{_asset_name(v)}" for v in validations})
    return {
        stream.name: _stream_result(connection, stream, run, by_stream[stream.name], validated)
        for stream in streams
    }


def _stream_result(
    connection: ConnectionSpec,
    stream: StreamSpec,
    run: CheckpointRun,
    validations: list[Any],
    validated: list[str],
) -> dg.AssetCheckResult:
    base = {"checkpoint": run.checkpoint, "gx_project": run.project}
    if stream.name in run.unavailable:
        return dg.AssetCheckResult(
            asset_key=connection.asset_key(stream),
            check_name=CHECK_NAME,
            passed=False,
            description=f"{connection.name}/{stream.name}: not validated by checkpoint {run.checkpoint!r}: "
            f"{run.unavailable[stream.name]}",
            metadata=base,
        )
    if not validations:
        return dg.AssetCheckResult(
            asset_key=connection.asset_key(stream),
            check_name=CHECK_NAME,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,  # nothing validated: no verdict to block on
            description=f"{connection.name}/{stream.name}: checkpoint {run.checkpoint!r} ({run.project}) "
            f"validates no data asset named {stream.table_name!r}; it validates: {', '.join(validated) or 'nothing'}",
            metadata={**base, "validated_data_assets": dg.MetadataValue.json(validated)},
        )
    expectations = [expectation_summary(r) for v in validations for r in v.results]
    rows = [row for v in validations for r in v.results if (row := failing_rows(r)) is not None]
    failures = [_failure_label(summary) for summary in expectations if not summary["success"]]
    evaluated = sum(int(v.statistics["evaluated_expectations"]) for v in validations)
    successful = sum(int(v.statistics["successful_expectations"]) for v in validations)
    passed = all(bool(v.success) for v in validations)
    return dg.AssetCheckResult(
        asset_key=connection.asset_key(stream),
        check_name=CHECK_NAME,
        passed=passed,
        description=None if passed else f"{connection.name}/{stream.name}: " + "; ".join(failures),
        metadata={
            **base,
            "suites": dg.MetadataValue.json(sorted({v.suite_name for v in validations})),
            "evaluated_expectations": evaluated,
            "successful_expectations": successful,
            "success_percent": float(100.0 * successful / evaluated) if evaluated else 0.0,
            "failed_expectations": dg.MetadataValue.json(failures),
            "expectations": dg.MetadataValue.json(_json_safe(expectations)),
            "failing_rows": dg.MetadataValue.json(_json_safe(rows)),
        },
    )
