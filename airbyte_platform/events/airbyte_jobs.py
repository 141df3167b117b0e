"""Confirming an Airbyte notification: `GET /jobs/{jobId}` of the Airbyte public API.

Notifications are not signed, so before anything acts on one the sensor asks Airbyte itself what
the job is. This needs one endpoint, so it is a small requests-based resource here rather than a
dependency on the full Airbyte client of `ingestion.airbyte_server` (which owns syncing).

Base URL, as the public API documents it: self-managed `<AIRBYTE_API_URL>/api/public/v1`, Airbyte
Cloud `https://api.airbyte.com/v1` (an AIRBYTE_API_URL set in Cloud mode replaces the host).
Auth: basic (AIRBYTE_API_USERNAME/PASSWORD) or an application token from
`POST /applications/token` (AIRBYTE_CLIENT_ID/SECRET).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import requests
from pydantic import Field

CLOUD_PUBLIC_API = "https://api.airbyte.com/v1"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "incomplete"})


class AirbyteJobLookupError(RuntimeError):
    """Airbyte could not answer now (unreachable, 5xx, auth); try again later."""


class AirbyteJobNotFound(LookupError):
    """Airbyte says there is no such job: the notification cannot be confirmed."""


def public_api_base(api_url: str | None, cloud: bool) -> str | None:
    if cloud:
        return f"{api_url.rstrip('/')}/v1" if api_url else CLOUD_PUBLIC_API
    return f"{api_url.rstrip('/')}/api/public/v1" if api_url else None


class AirbyteJobApiResource(dg.ConfigurableResource):
    """Looks up Airbyte jobs; unconfigured (no base URL) in local mode without an Airbyte server."""

    base_url: str | None = Field(default=None, description="Airbyte public API base URL.")
    username: str | None = Field(default=None, description="Basic-auth user (AIRBYTE_API_USERNAME).")
    password: str | None = Field(default=None, description="Basic-auth password (secret, via EnvVar).")
    client_id: str | None = Field(default=None, description="Application client id (AIRBYTE_CLIENT_ID).")
    client_secret: str | None = Field(default=None, description="Application secret (secret, via EnvVar).")
    timeout_seconds: float = Field(default=10.0)

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    def _headers(self, session: requests.Session) -> dict[str, str]:
        if not (self.client_id and self.client_secret):
            return {}
        response = self._send(
            session,
            "POST",
            f"{self.base_url}/applications/token",
            json={"client_id": self.client_id, "client_secret": self.client_secret},
        )
        token = response.json().get("access_token")
        if not token:
            raise AirbyteJobLookupError("Airbyte /applications/token answered without an access_token")
        return {"Authorization": f"Bearer {token}"}

    def _send(self, session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = session.request(method, url, timeout=self.timeout_seconds, **kwargs)
        except requests.RequestException as exc:
            raise AirbyteJobLookupError(f"Airbyte API unreachable ({type(exc).__name__}: {exc})") from exc
        if response.status_code in (401, 403):
            raise AirbyteJobLookupError(
                f"Airbyte API refused the credentials (HTTP {response.status_code}): check "
                "AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD or AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET"
            )
        if response.status_code >= 500 or response.status_code == 429:
            raise AirbyteJobLookupError(f"Airbyte API answered HTTP {response.status_code} for {url}")
        return response

    def get_job(self, job_id: int) -> dict[str, Any]:
        """The job as the public API describes it: {"jobId", "status", "connectionId", "rowsSynced", ...}."""
        if not self.base_url:
            raise AirbyteJobLookupError(
                "the Airbyte API is not configured (AIRBYTE_API_URL): notifications cannot be confirmed"
            )
        with requests.Session() as session:
            if self.username and self.password:
                session.auth = (self.username, self.password)
            headers = {"Accept": "application/json", **self._headers(session)}
            response = self._send(session, "GET", f"{self.base_url}/jobs/{int(job_id)}", headers=headers)
        if response.status_code == 404:
            raise AirbyteJobNotFound(f"Airbyte has no job {job_id}")
        if response.status_code >= 400:
            raise AirbyteJobLookupError(f"Airbyte API answered HTTP {response.status_code} for job {job_id}")
        try:
            job = response.json()
        except ValueError:
            raise AirbyteJobLookupError(
                f"Airbyte API answered job {job_id} with a body that is not JSON: is {self.base_url} the public API?"
            ) from None
        if not isinstance(job, dict) or "status" not in job:
            raise AirbyteJobLookupError(f"Airbyte API answered job {job_id} without a status")
        return job
