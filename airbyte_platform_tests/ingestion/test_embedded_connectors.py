"""Connector resolution and per-connector virtualenvs, with a real pip install of a locally built wheel."""

from __future__ import annotations

import logging
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from airbyte_platform.ingestion.embedded.connectors import (
    MARKER_NAME,
    SPEC_FILE_NAME,
    ConnectorCommand,
    ConnectorError,
    PypiConnectorInstaller,
    resolve_connector,
)
from airbyte_platform.ingestion.embedded.process import AirbyteConnector

TINY_SOURCE = """
import json, sys

def main():
    assert sys.argv[1] == "spec"
    print(json.dumps({"type": "SPEC", "spec": {"connectionSpecification": {"title": "tiny"}}}))
"""


def build_wheel(folder: Path) -> Path:
    """A minimal wheel of `airbyte-source-tiny` with the console script `source-tiny`: pip installs it offline."""
    wheel = folder / "airbyte_source_tiny-0.1.0-py3-none-any.whl"
    info = "airbyte_source_tiny-0.1.0.dist-info"
    files = {
        "tiny_source/__init__.py": TINY_SOURCE,
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: airbyte-source-tiny\nVersion: 0.1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "[console_scripts]\nsource-tiny = tiny_source:main\n",
    }
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"]))
    return wheel


def test_sample_and_python_references_run_with_this_interpreter(tmp_path: Path):
    sample = resolve_connector("sample:stripe", tmp_path)
    assert sample.argv == (sys.executable, "-m", "airbyte_platform.ingestion.sample_sources", "stripe")

    script = tmp_path / "source.py"
    script.write_text("")
    assert resolve_connector(f"python:{script}", tmp_path).argv == (sys.executable, str(script))


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("docker:airbyte/source-stripe", "unknown scheme 'docker'"),
        ("sample:", "expected sample:<shape>"),
        ("python:/no/such/source.py", "no such script"),
        ("pypi:source faker!", "not a valid requirement"),
    ],
)
def test_bad_references_say_what_to_fix(tmp_path: Path, reference: str, problem: str):
    with pytest.raises(ConnectorError, match=problem):
        resolve_connector(reference, tmp_path)


def test_pypi_connector_installs_once_into_its_own_virtualenv(tmp_path: Path, caplog):
    requirement = f"airbyte-source-tiny @ {build_wheel(tmp_path).as_uri()}"
    connectors = tmp_path / "connectors"
    installer = PypiConnectorInstaller(connectors, log=logging.getLogger("embedded-test"))
    commands: list[tuple[str, ...]] = []

    # Two concurrent first uses: the file lock lets one install while the other waits, then reuses it.
    with caplog.at_level(logging.INFO, logger="embedded-test"):
        threads = [
            threading.Thread(target=lambda: commands.append(installer.ensure(requirement))) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    venv = installer.venv_dir(requirement)
    assert commands == [(str(venv / "bin" / "source-tiny"),)] * 2
    assert sum("installing into its own virtualenv" in r.message for r in caplog.records) == 1
    assert (venv / MARKER_NAME).is_file()
    spec = AirbyteConnector(
        commands[0], workdir=tmp_path, log=logging.getLogger("embedded-test"), label="tiny"
    ).spec()
    assert spec == {"connectionSpecification": {"title": "tiny"}}

    # No marker = an install that never finished: the virtualenv is wiped and installed again.
    (venv / MARKER_NAME).unlink()
    (venv / "half-written").write_text("")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="embedded-test"):
        assert installer.ensure(requirement) == commands[0]
    assert "holds an unfinished install; reinstalling" in caplog.text
    assert not (venv / "half-written").exists() and (venv / MARKER_NAME).is_file()


def test_failed_install_leaves_no_marker(tmp_path: Path):
    requirement = f"airbyte-source-tiny @ {(tmp_path / 'missing-0.1.0-py3-none-any.whl').as_uri()}"
    installer = PypiConnectorInstaller(tmp_path / "connectors")

    with pytest.raises(ConnectorError, match=r"pypi:airbyte-source-tiny @ .* failed with exit code 1"):
        installer.ensure(requirement)

    assert not (installer.venv_dir(requirement) / MARKER_NAME).exists()


def test_only_a_pinned_pypi_version_keeps_its_spec(tmp_path: Path):
    spec = {"connectionSpecification": {"type": "object"}}
    pinned = ConnectorCommand("pypi:airbyte-source-x==1.2.3", ("x",), tmp_path / "x" / SPEC_FILE_NAME)
    assert pinned.known_spec() is None
    (tmp_path / "x").mkdir()
    pinned.remember_spec(spec)
    assert pinned.known_spec() == spec  # a later sync, in another process, skips `spec`

    sample = resolve_connector("sample:stripe", tmp_path)
    assert sample.spec_file is None  # the platform's own code: may change with it
    sample.remember_spec(spec)
    assert sample.known_spec() is None
