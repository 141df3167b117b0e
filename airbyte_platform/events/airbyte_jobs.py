"""Confirming an Airbyte notification: `GET /jobs/{jobId}` of the Airbyte public API.

Notifications are not signed, so before anything acts on one the sensor asks Airbyte itself what
the job is. It asks through the project's one Airbyte client (`ResilientAirbyteClient`: its URLs,
auth, token cache and error mapping); this resource only says what the sensor needs to know:
the job, `AirbyteJobNotFound` (drop the notification) or `AirbyteJobLookupError` (keep it for the
next evaluation).

No retries by default (`max_retries=0`): a failed lookup leaves the notification pending and the
next evaluation asks again, which keeps an evaluation short when Airbyte is down. One token per
evaluation with client credentials, however many notifications it confirms.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._utils.cached_method import cached_method
from pydantic import Field

from airbyte_platform.ingestion.airbyte_server.client import ResilientAirbyteClient
from airbyte_platform.ingestion.airbyte_server.endpoints import airbyte_endpoints
from airbyte_platform.ingestion.airbyte_server.errors import (
    AirbyteApiError,
    AirbyteNotFoundError,
    AirbyteRetriesExhaustedError,
    AirbyteTransientError,
)
from airbyte_platform.ingestion.airbyte_server.retry import RetrySettings

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "incomplete"})
CREDENTIALS = "AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD or AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET"


class AirbyteJobLookupError(RuntimeError):
    """Airbyte could not answer now (unreachable, 5xx, auth); try again later."""


class AirbyteJobNotFound(LookupError):
    """Airbyte says there is no such job: the notification cannot be confirmed."""


def public_api_base(api_url: str | None, cloud: bool) -> str | None:
    """The public API's base URL (endpoints.py), or None when no Airbyte is configured (local mode)."""
    if not (api_url or cloud):
        return None
    return airbyte_endpoints(api_url, cloud=cloud).rest_api_base_url


class AirbyteJobApiResource(dg.ConfigurableResource):
    """Looks up Airbyte jobs; unconfigured (no base URL) in local mode without an Airbyte server."""

    base_url: str | None = Field(default=None, description="Airbyte public API base URL.")
    username: str | None = Field(default=None, description="Basic-auth user (AIRBYTE_API_USERNAME).")
    password: str | None = Field(default=None, description="Basic-auth password (secret, via EnvVar).")
    client_id: str | None = Field(default=None, description="Application client id (AIRBYTE_CLIENT_ID).")
    client_secret: str | None = Field(default=None, description="Application secret (secret, via EnvVar).")
    timeout_seconds: float = Field(default=10.0)
    max_retries: int = Field(
        default=0, description="Retries of a transient failure; 0: the next sensor evaluation asks again."
    )

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    @cached_method
    def client(self) -> ResilientAirbyteClient:
        if not self.base_url:
            raise AirbyteJobLookupError(
                "the Airbyte API is not configured (AIRBYTE_API_URL): notifications cannot be confirmed"
            )
        # Only the public API is used here: the config API URL keeps the library's default.
        return ResilientAirbyteClient(
            rest_api_base_url=self.base_url,
            username=self.username,
            password=self.password,
            client_id=self.client_id,
            client_secret=self.client_secret,
            retry=RetrySettings(max_retries=self.max_retries, timeout=self.timeout_seconds),
            credential_hint=CREDENTIALS,
        )

    def get_job(self, job_id: int) -> dict[str, Any]:
        """The job as the public API describes it: {"jobId", "status", "connectionId", "rowsSynced", ...}."""
        client = self.client()
        try:
            job = client.get_job(int(job_id))
        except AirbyteNotFoundError:
            raise AirbyteJobNotFound(f"Airbyte has no job {job_id}") from None
        except AirbyteApiError as exc:
            raise AirbyteJobLookupError(str(exc.description)) from exc
        except (AirbyteRetriesExhaustedError, AirbyteTransientError) as exc:
            description = getattr(exc, "description", None) or str(exc)
            raise AirbyteJobLookupError(f"Airbyte API unreachable: {description}") from exc
        if not isinstance(job, dict) or "status" not in job:
            raise AirbyteJobLookupError(f"Airbyte API answered job {job_id} without a status")
        return job
