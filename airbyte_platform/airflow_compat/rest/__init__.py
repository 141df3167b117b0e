"""Airflow's stable REST API (v1), the subset existing callers use, served over the Dagster webserver.

Run it with `python -m airbyte_platform.airflow_compat.rest` (AIRFLOW_API_HOST/AIRFLOW_API_PORT,
AIRFLOW_API_USERNAME/AIRFLOW_API_PASSWORD, DAGSTER_WEBSERVER_URL), or mount
`build_airflow_api_app(facade_config_from_settings(settings))` in another ASGI app.
"""

from airbyte_platform.airflow_compat.rest.app import CONF_AS_RUN_CONFIG, FacadeConfig, build_airflow_api_app
from airbyte_platform.airflow_compat.rest.config import facade_config_from_settings

__all__ = ["CONF_AS_RUN_CONFIG", "FacadeConfig", "build_airflow_api_app", "facade_config_from_settings"]
