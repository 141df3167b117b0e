"""The facade's settings: optional for the code location, required (and said so) by the facade's command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from airbyte_platform.airflow_compat.rest.config import FacadeConfigError, facade_config_from_settings
from airbyte_platform.settings import SettingsError, load_settings
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS


def test_prod_loads_without_the_facade_variables_and_defaults_to_airflows_port():
    settings = load_settings(PROD_PLACEHOLDERS)
    api = settings.airflow_api
    assert api is not None and (api.username_var, api.password_var) == (None, None)
    assert (api.host, api.port, api.dagster_webserver_url) == ("127.0.0.1", 8080, "http://127.0.0.1:3000")
    with pytest.raises(FacadeConfigError, match="AIRFLOW_API_USERNAME and AIRFLOW_API_PASSWORD"):
        facade_config_from_settings(settings)


def test_credentials_are_kept_as_variable_names_and_read_through_envvar(monkeypatch, tmp_path):
    environ = {
        "AIRBYTE_PLATFORM_HOME": str(tmp_path),
        "AIRFLOW_API_USERNAME": "airflow",
        "AIRFLOW_API_PASSWORD": "facade-secret-value",
        "DAGSTER_WEBSERVER_URL": "http://dagster-webserver:3000/",
        "AIRFLOW_API_PORT": "18080",
    }
    settings = load_settings(environ)
    assert "facade-secret-value" not in repr(settings)
    assert settings.airflow_api is not None and settings.airflow_api.password_var == "AIRFLOW_API_PASSWORD"
    assert settings.airflow_api.port == 18080
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    config = facade_config_from_settings(settings)
    assert (config.credentials.username, config.credentials.password) == ("airflow", "facade-secret-value")
    assert "facade-secret-value" not in repr(config.credentials)
    assert config.dagster.graphql_url == "http://dagster-webserver:3000/graphql"


def test_malformed_facade_values_are_named(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {
                "AIRBYTE_PLATFORM_HOME": str(tmp_path),
                "DAGSTER_WEBSERVER_URL": "dagster:3000",
                "AIRFLOW_API_PORT": "x",
            }
        )
    message = str(raised.value)
    assert "DAGSTER_WEBSERVER_URL='dagster:3000' is not a http/https URL" in message
    assert "AIRFLOW_API_PORT='x' is not an integer" in message


def test_the_facade_command_refuses_to_start_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_API_")}
    env["AIRBYTE_PLATFORM_HOME"] = str(tmp_path)
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    done = subprocess.run(
        [sys.executable, "-m", "airbyte_platform.airflow_compat.rest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "needs AIRFLOW_API_USERNAME and AIRFLOW_API_PASSWORD" in done.stderr
