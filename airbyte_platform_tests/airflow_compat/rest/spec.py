"""Airflow's published v1.yaml as the judge of every request the tests send and every response they get.

Airflow serves errors as `application/problem+json` (RFC 7807, connexion's problem handler) while its
spec declares them `application/json`; the validator is given the same body under the declared type,
and the tests assert the real content type separately.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator

# shared/airflow/v1.yaml (Apache Airflow's stable REST API spec, Apache License 2.0), copied unmodified.
SPEC_PATH = Path(__file__).with_name("airflow-v1.openapi.yaml")
PROBLEM_JSON = "application/problem+json"


@cache
def airflow_spec() -> OpenAPI:
    document = yaml.safe_load(SPEC_PATH.read_text())
    # Airflow sends `"schedule_interval": null` for DAGs without a schedule, and the spec allows it
    # (ScheduleInterval and its branches are nullable), but openapi-schema-validator applies the
    # `__type` discriminator before `nullable` and rejects null. Only that discriminator is dropped;
    # the anyOf of TimeDelta / RelativeDelta / CronExpression still judges every non-null value.
    del document["components"]["schemas"]["ScheduleInterval"]["discriminator"]
    return OpenAPI.from_dict(document)


class _AsDeclared(RequestsOpenAPIResponse):
    @property
    def content_type(self) -> str:
        declared = super().content_type
        return "application/json" if declared.startswith(PROBLEM_JSON) else declared


# Statuses Airflow itself answers on an operation although its spec does not list them there:
# PATCH /dags/{dag_id} raises BadRequest (400) on an invalid body in airflow.api_connexion, and any
# operation can fail with a server error (the facade: 503 while the Dagster webserver is down).
UNDOCUMENTED_BY_AIRFLOW = {("PATCH", 400)}


def validated(response: requests.Response) -> requests.Response:
    """Validate the request that was sent and the response received against the spec; return the response."""
    request = RequestsOpenAPIRequest(response.request)
    spec = airflow_spec()  # its server is the relative /api/v1: paths match on any host and port
    spec.validate_request(request)
    if (
        response.request.method,
        response.status_code,
    ) in UNDOCUMENTED_BY_AIRFLOW or response.status_code >= 500:
        _error_schema().validate(response.json())  # still the spec's Error format
    else:
        spec.validate_response(request, _AsDeclared(response))
    return response


@cache
def _error_schema() -> OAS30Validator:
    document = yaml.safe_load(SPEC_PATH.read_text())
    return OAS30Validator(document["components"]["schemas"]["Error"])


@cache
def spec_enum(schema: str) -> frozenset[str | None]:
    """The allowed values of one enum schema of the spec (DagState, TaskState, ...)."""
    document = yaml.safe_load(SPEC_PATH.read_text())
    return frozenset(document["components"]["schemas"][schema]["enum"])
