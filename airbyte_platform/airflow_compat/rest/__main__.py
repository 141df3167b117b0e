"""`python -m airbyte_platform.airflow_compat.rest`: serve the Airflow REST API facade with uvicorn.

Host, port, credentials and the Dagster webserver URL come from the settings (AIRFLOW_API_HOST,
AIRFLOW_API_PORT, AIRFLOW_API_USERNAME, AIRFLOW_API_PASSWORD, DAGSTER_WEBSERVER_URL); --host and
--port override the first two.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from airbyte_platform.airflow_compat.rest.app import build_airflow_api_app
from airbyte_platform.airflow_compat.rest.config import FacadeConfigError, facade_config_from_settings
from airbyte_platform.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="listen address (default: AIRFLOW_API_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default: AIRFLOW_API_PORT or 8080)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default: info)")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        config = facade_config_from_settings(settings)
    except (SettingsError, FacadeConfigError) as exc:
        print(f"airflow REST API facade: {exc}", file=sys.stderr)
        return 2
    assert settings.airflow_api is not None
    uvicorn.run(
        build_airflow_api_app(config),
        host=args.host or settings.airflow_api.host,
        port=args.port or settings.airflow_api.port,
        log_level=args.log_level,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
