"""Airflow's `basic_auth` API backend: HTTP Basic credentials on every endpoint but /health.

Airflow checks the user against its own user table; here one user/password pair comes from the
settings (AIRFLOW_API_USERNAME / AIRFLOW_API_PASSWORD, read through dg.EnvVar). Failures answer as
Airflow does: 401, `WWW-Authenticate: Basic`, problem details.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from starlette.requests import Request

from airbyte_platform.airflow_compat.rest.problems import ApiProblem


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"BasicCredentials(username={self.username!r}, password='***')"


def _presented(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def require_basic_auth(request: Request, expected: BasicCredentials) -> None:
    presented = _presented(request)
    # Compare both parts in constant time, and always both, so timing says nothing about which failed.
    ok = presented is not None
    user_ok = hmac.compare_digest((presented or ("", ""))[0].encode(), expected.username.encode())
    password_ok = hmac.compare_digest((presented or ("", ""))[1].encode(), expected.password.encode())
    if not (ok and user_ok and password_ok):
        raise Unauthenticated()


class Unauthenticated(ApiProblem):
    def __init__(self) -> None:
        super().__init__(401, "Missing or invalid HTTP Basic credentials.")

    def response(self):  # type: ignore[override]
        response = super().response()
        response.headers["WWW-Authenticate"] = "Basic"
        return response
