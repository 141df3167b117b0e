"""Validate recorded exchanges against Airbyte's published public API (shared/airbyte).

Every request the client sends to the public API must match the spec (including requests answered
by an injected fault); every response whose status the spec declares for that operation must match
its schema. Statuses the trimmed spec does not
declare (401, 409, 429, 5xx: errors and injected faults) must still be empty or a JSON object.
The config-API calls (dagster-airbyte's `connections/get`, per-stream `jobs/get`) are outside the
contract and are not validated.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse

from airbyte_platform_tests.airbyte_server.fake_airbyte import Exchange

# A verbatim copy of shared/airbyte/public-api.openapi.yaml (test_contract.py checks they agree).
SPEC_PATH = Path(__file__).with_name("public-api.openapi.yaml")


@cache
def _spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


@cache
def openapi_for(base_url: str) -> OpenAPI:
    spec = dict(_spec())
    spec["servers"] = [{"url": base_url}]
    # The published spec has `default: null` on string fields, which the spec validator rejects;
    # the request/response validation below does not depend on it.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def violations(exchanges: list[Exchange]) -> list[str]:
    problems: list[str] = []
    for exchange in exchanges:
        if exchange.api != "public":
            continue
        problem = check_exchange(exchange)
        if problem:
            problems.append(problem)
    return problems


def check_exchange(exchange: Exchange) -> str | None:
    host, _, prefix = exchange.base_url.partition("/api/public/v1")
    if not _:
        host, _, prefix = exchange.base_url.rpartition("/v1")
        prefix = "/v1"
    else:
        prefix = "/api/public/v1"
    api = openapi_for(f"{host}{prefix}")
    request = MockRequest(
        host,
        exchange.method,
        f"{prefix}{exchange.path}",
        args=list(exchange.query),
        headers=exchange.headers,
        data=exchange.body or None,
    )
    where = f"{exchange.method} {exchange.path}?{'&'.join(f'{k}={v}' for k, v in exchange.query)}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Unsupported scheme type" (oauth2 security scheme)
        try:
            api.validate_request(request)
        except Exception as exc:
            return f"request {where}: {exc} ({exc.__cause__})"
        if exchange.fault is not None:
            return None
        response = MockResponse(
            exchange.response_body,
            exchange.status,
            headers=exchange.response_headers,
            content_type="application/json" if exchange.response_body else None,
        )
        try:
            api.validate_response(request, response)
        except ResponseNotFound:
            if exchange.response_body and not isinstance(json.loads(exchange.response_body), dict):
                return f"response {exchange.status} to {where} is not a JSON object"
        except Exception as exc:
            return f"response {exchange.status} to {where}: {exc} ({exc.__cause__})"
    return None
