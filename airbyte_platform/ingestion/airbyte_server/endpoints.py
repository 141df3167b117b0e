"""Where the Airbyte APIs and UI live, from settings: self-managed or Cloud.

- self-managed: public API `<AIRBYTE_API_URL>/api/public/v1`, config API `<AIRBYTE_API_URL>/api/v1`;
- Cloud (AIRBYTE_CLOUD=true): `https://api.airbyte.com/v1` and `https://cloud.airbyte.com/api/v1`;
  an AIRBYTE_API_URL set in Cloud mode replaces the host (`<url>/v1`, `<url>/api/v1`), which is
  how tests point Cloud mode at the local server.
Job links go to AIRBYTE_WEBAPP_URL when set (AIRBYTE_API_URL is often an in-cluster address).
"""

from __future__ import annotations

from dataclasses import dataclass

from airbyte_platform.settings import AirbyteApiSettings

CLOUD_API_ROOT = "https://api.airbyte.com"
CLOUD_CONFIG_API = "https://cloud.airbyte.com/api/v1"
CLOUD_WEBAPP = "https://cloud.airbyte.com"


@dataclass(frozen=True)
class AirbyteEndpoints:
    rest_api_base_url: str
    configuration_api_base_url: str
    webapp_url: str


def endpoints_for(airbyte: AirbyteApiSettings) -> AirbyteEndpoints:
    return airbyte_endpoints(airbyte.api_url, cloud=airbyte.cloud, webapp_url=airbyte.webapp_url)


def airbyte_endpoints(
    api_url: str | None, *, cloud: bool = False, webapp_url: str | None = None
) -> AirbyteEndpoints:
    """The one URL builder: every Airbyte client (resource, hook, notification sensor) uses it."""
    if cloud:
        root = (api_url or CLOUD_API_ROOT).rstrip("/")
        return AirbyteEndpoints(
            rest_api_base_url=f"{root}/v1",
            configuration_api_base_url=f"{root}/api/v1" if api_url else CLOUD_CONFIG_API,
            webapp_url=(webapp_url or CLOUD_WEBAPP).rstrip("/"),
        )
    if not api_url:
        raise ValueError("AIRBYTE_API_URL is not set (the Airbyte server, e.g. http://airbyte-server:8000)")
    root = api_url.rstrip("/")
    return AirbyteEndpoints(
        rest_api_base_url=f"{root}/api/public/v1",
        configuration_api_base_url=f"{root}/api/v1",
        webapp_url=(webapp_url or root).rstrip("/"),
    )


def job_url(webapp_url: str, workspace_id: str | None, connection_id: str, job_id: int) -> str:
    """The job in the connection's timeline (Airbyte >= 1.1; older UIs open the connection)."""
    if workspace_id:
        return (
            f"{webapp_url}/workspaces/{workspace_id}/connections/{connection_id}/timeline"
            f"?jobId={job_id}&openLogs=true"
        )
    return f"{webapp_url}/connections/{connection_id}"


def credential_hint(airbyte: AirbyteApiSettings) -> str:
    """The variables holding the credentials, for error messages (never their values)."""
    names = [
        name
        for name in (
            airbyte.username_var,
            airbyte.password_var,
            airbyte.client_id_var,
            airbyte.client_secret_var,
        )
        if name
    ]
    if names:
        return "/".join(names)
    return "AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD or AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET"
