"""The facade's configuration from the settings; credential values are read through dg.EnvVar."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.airflow_compat.rest.app import FacadeConfig
from airbyte_platform.airflow_compat.rest.auth import BasicCredentials
from airbyte_platform.airflow_compat.rest.dagster_api import DagsterWebserver
from airbyte_platform.settings import Settings


class FacadeConfigError(ValueError):
    pass


def facade_config_from_settings(settings: Settings) -> FacadeConfig:
    api = settings.airflow_api
    if api is None or api.username_var is None or api.password_var is None:
        raise FacadeConfigError(
            "the Airflow REST API facade needs AIRFLOW_API_USERNAME and AIRFLOW_API_PASSWORD "
            "(the basic-auth user callers send, as Airflow's basic_auth backend); set both and restart"
        )
    credentials = BasicCredentials(
        username=dg.EnvVar(api.username_var).get_value() or "",
        password=dg.EnvVar(api.password_var).get_value() or "",
    )
    return FacadeConfig(credentials=credentials, dagster=DagsterWebserver(api.dagster_webserver_url))
