"""No secret value anywhere under deploy/: secrets reach pods only through ExternalSecrets (the secret
manager), never as a Secret manifest, a ConfigMap value, a literal env value or a Helm value."""

from __future__ import annotations

import re

import pytest

from airbyte_platform_tests.deploy.deploy_files import (
    DEPLOY,
    ENVIRONMENTS,
    base_documents,
    deploy_yaml_files,
    overlay_patches,
    secret_variables,
    settings_data,
    walk,
    yaml_documents,
)

# Shapes of real credentials: Stripe keys and webhook secrets, Databricks tokens, AWS access keys,
# passwords inside DSNs or URLs, private keys.
SECRET_SHAPES = {
    "Stripe key or webhook secret": re.compile(r"\b(whsec|sk_live|sk_test|rk_live|rk_test)_[A-Za-z0-9]{6,}"),
    "Databricks token": re.compile(r"\bdapi[0-9a-f]{32}\b"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "password in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
SENSITIVE_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|DSN|PRIVATE|CREDENTIAL|API_KEY", re.IGNORECASE)


def deploy_text_files() -> list:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix not in (".json",))


def test_secret_shape_patterns_match_real_looking_secrets() -> None:
    """The scan below is only worth something if its patterns catch what they are meant to."""
    samples = {
        "Stripe key or webhook secret": "whsec_" + "a1B2c3D4e5F6",
        "Databricks token": "dapi" + "0123456789abcdef" * 2,
        "AWS access key": "AKIA" + "ABCDEFGHIJKLMNOP",
        "password in a URL": "postgresql://" + "user:hunter2@db:5432/x",
        "private key": "-----BEGIN " + "RSA PRIVATE KEY-----",
    }
    for shape, sample in samples.items():
        assert SECRET_SHAPES[shape].search(sample), shape


@pytest.mark.parametrize("path", deploy_text_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_no_file_under_deploy_holds_a_secret(path) -> None:
    text = path.read_text()
    for shape, pattern in SECRET_SHAPES.items():
        match = pattern.search(text)
        assert match is None, f"{path}: looks like a {shape}: {match.group(0)[:12]}..."


def test_no_secret_object_is_written_by_hand() -> None:
    for path in deploy_yaml_files():
        for doc in yaml_documents(path):
            assert doc.get("kind") != "Secret", f"{path}: a Secret manifest (use an ExternalSecret)"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_settings_configmap_holds_no_secret_setting(environment: str) -> None:
    data = settings_data(environment)
    assert not (secret_variables() & set(data)), "a secret setting is in the ConfigMap"
    for key in data:
        assert not SENSITIVE_NAME.search(key), f"{key} looks sensitive: put it in the ExternalSecret"


def test_literal_environment_values_are_not_sensitive() -> None:
    docs = [d.body for d in base_documents()] + [
        d.body for environment in ENVIRONMENTS for d in overlay_patches(environment)
    ]
    for body in docs:
        for path, value in walk(body):
            if path.endswith(".name") and isinstance(value, str) and SENSITIVE_NAME.search(value):
                # an env entry named like a secret must take its value from a Secret, never inline
                assert f"{path[: -len('.name')]}.value" not in dict(walk(body)), f"{path}={value} is inline"
