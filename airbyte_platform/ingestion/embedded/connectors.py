"""Resolve a connector reference (`sample:`, `pypi:`, `python:`) to the command that runs it.

A PyPI connector gets its own virtualenv under `connectors_dir/<slug>`, installed on first use:
connectors pin their own `airbyte-cdk`, `pydantic`, ... which would fight the platform's packages
(installing `airbyte-source-faker` into the main environment downgrades `airbyte-cdk`).
Installs are serialized by a file lock, and a marker file is written only after a successful
install, so a half-installed virtualenv (crash, Ctrl-C, full disk) is wiped and redone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from packaging.requirements import InvalidRequirement, Requirement

from airbyte_platform.core.naming import clean_name

SAMPLE_SOURCES_MODULE = "airbyte_platform.ingestion.sample_sources"
MARKER_NAME = "airbyte-platform-connector.json"
INSTALL_LOCK_TIMEOUT_SECONDS = 1800.0
_BIN_DIR = "Scripts" if os.name == "nt" else "bin"

_log = logging.getLogger(__name__)


class ConnectorError(ValueError):
    """The connector reference is invalid or its installation failed."""


SPEC_FILE_NAME = "airbyte-connector-spec.json"


@dataclass(frozen=True)
class ConnectorCommand:
    reference: str  # as declared, e.g. "pypi:airbyte-source-faker==7.2.1"
    argv: tuple[str, ...]  # the command, to which spec/check/discover/read and their options are appended
    # Where this connector version's spec is kept once asked: only for a version pinned with `==`,
    # whose spec cannot change (the Airbyte platform too asks a connector version for its spec once).
    spec_file: Path | None = None

    def known_spec(self) -> dict[str, Any] | None:
        if self.spec_file is None:
            return None
        try:
            spec = json.loads(self.spec_file.read_text())
        except (OSError, ValueError):
            return None
        return spec if isinstance(spec, dict) else None

    def remember_spec(self, spec: dict[str, Any]) -> None:
        if self.spec_file is None:
            return
        temporary = self.spec_file.with_name(f".{self.spec_file.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(spec))
            temporary.replace(self.spec_file)  # whole or absent, for concurrent syncs
        except OSError as exc:  # only a cache
            _log.debug(f"cannot keep the spec of {self.reference} in {self.spec_file}: {exc}")


def resolve_connector(
    reference: str, connectors_dir: Path, log: logging.Logger | None = None
) -> ConnectorCommand:
    """`sample:<shape>`, `pypi:<requirement>` or `python:<script path>` -> the command running it.

    `python:` runs a script with this interpreter: a connector under development, or a test double.
    """
    scheme, _, target = reference.partition(":")
    target = target.strip()
    if not target:
        raise ConnectorError(
            f"connector {reference!r}: expected sample:<shape>, pypi:<requirement> or python:<script>"
        )
    if scheme == "sample":
        return ConnectorCommand(reference, (sys.executable, "-m", SAMPLE_SOURCES_MODULE, target))
    if scheme == "pypi":
        installer = PypiConnectorInstaller(connectors_dir, log=log)
        pinned = any(
            spec.operator in ("==", "===") and "*" not in spec.version
            for spec in _parse_requirement(target).specifier
        )
        spec_file = installer.venv_dir(target) / SPEC_FILE_NAME if pinned else None
        return ConnectorCommand(reference, installer.ensure(target), spec_file)
    if scheme == "python":
        script = Path(target)
        if not script.is_file():
            raise ConnectorError(f"connector {reference!r}: no such script {script}")
        return ConnectorCommand(reference, (sys.executable, str(script.resolve())))
    raise ConnectorError(
        f"connector {reference!r}: unknown scheme {scheme!r}; use sample:<shape>, pypi:<requirement> or python:<script>"
    )


def connector_slug(requirement: str) -> str:
    """`airbyte-source-faker==7.2.1` -> `airbyte_source_faker_7_2_1`: one virtualenv per requirement."""
    return clean_name(requirement)


class PypiConnectorInstaller:
    """Installs a connector from PyPI into `connectors_dir/<slug>` and finds its console script."""

    def __init__(
        self, connectors_dir: Path, *, python: str = sys.executable, log: logging.Logger | None = None
    ):
        # Absolute: connectors run with a temporary working directory.
        self.connectors_dir = connectors_dir.resolve()
        self.python = python
        self.log = log or _log

    def venv_dir(self, requirement: str) -> Path:
        return self.connectors_dir / connector_slug(requirement)

    def ensure(self, requirement: str) -> tuple[str, ...]:
        """The connector's command, installing it first unless a completed install is already there."""
        parsed = _parse_requirement(requirement)
        venv_dir = self.venv_dir(requirement)
        self.connectors_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.connectors_dir / f"{venv_dir.name}.lock"))
        try:
            with lock.acquire(timeout=INSTALL_LOCK_TIMEOUT_SECONDS):
                installed = self._installed_command(venv_dir, requirement)
                if installed is None:
                    installed = self._install(venv_dir, requirement, parsed.name)
                return installed
        except Timeout as exc:
            raise ConnectorError(
                f"pypi:{requirement}: another process has held the install lock {lock.lock_file} "
                f"for {INSTALL_LOCK_TIMEOUT_SECONDS:.0f} s; remove it if no install is running"
            ) from exc

    def _installed_command(self, venv_dir: Path, requirement: str) -> tuple[str, ...] | None:
        marker = venv_dir / MARKER_NAME
        try:
            recorded = json.loads(marker.read_text())
        except (OSError, ValueError):
            return None
        script = venv_dir / _BIN_DIR / recorded.get("entry_point", "")
        if recorded.get("requirement") != requirement or not script.is_file():
            return None
        return (str(script),)

    def _install(self, venv_dir: Path, requirement: str, distribution: str) -> tuple[str, ...]:
        if venv_dir.exists():
            self.log.warning(f"pypi:{requirement}: {venv_dir} holds an unfinished install; reinstalling")
            shutil.rmtree(venv_dir)
        started = time.monotonic()
        self.log.info(f"pypi:{requirement}: installing into its own virtualenv {venv_dir} (first use)")
        venv_python = str(venv_dir / _BIN_DIR / "python")
        if _has_pip(self.python):
            # The platform's pip installs into a pip-less virtualenv: saves seeding pip (~4 s) per connector.
            self._run(requirement, [self.python, "-m", "venv", "--without-pip", str(venv_dir)])
            pip = [self.python, "-m", "pip", "--python", venv_python]
        else:  # e.g. a platform environment made by uv, which has no pip
            self._run(requirement, [self.python, "-m", "venv", str(venv_dir)])
            pip = [venv_python, "-m", "pip"]
        self._run(requirement, [*pip, "install", "--quiet", "--disable-pip-version-check", requirement])
        entry_point = self._entry_point(requirement, venv_python, distribution)
        marker = {
            "requirement": requirement,
            "entry_point": entry_point,
            "installed_at": datetime.now(UTC).isoformat(),
            "install_seconds": round(time.monotonic() - started, 1),
        }
        # Written last and atomically: its presence means the virtualenv is complete.
        temporary = venv_dir / f"{MARKER_NAME}.tmp"
        temporary.write_text(json.dumps(marker, indent=2))
        temporary.replace(venv_dir / MARKER_NAME)
        self.log.info(
            f"pypi:{requirement}: installed in {marker['install_seconds']} s, entry point {entry_point}"
        )
        return (str(venv_dir / _BIN_DIR / entry_point),)

    def _entry_point(self, requirement: str, venv_python: str, distribution: str) -> str:
        """The distribution's console script: `airbyte-source-faker` -> `source-faker`."""
        probe = (
            "import importlib.metadata as m, json, sys; "
            "print(json.dumps([e.name for e in m.distribution(sys.argv[1]).entry_points "
            "if e.group == 'console_scripts']))"
        )
        output = self._run(requirement, [venv_python, "-c", probe, distribution])
        scripts: list[str] = json.loads(output.strip().splitlines()[-1])
        expected = distribution.lower().removeprefix("airbyte-")
        if expected in scripts:
            return expected
        if len(scripts) == 1:
            return scripts[0]
        raise ConnectorError(
            f"pypi:{requirement}: cannot tell the connector's console script among {scripts or 'none'}; "
            f"expected {expected!r}"
        )

    def _run(self, requirement: str, argv: list[str]) -> str:
        completed = subprocess.run(
            argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        if completed.returncode != 0:
            tail = "\n".join(
                line[:300] for line in (completed.stderr or completed.stdout).strip().splitlines()[-20:]
            )
            raise ConnectorError(
                f"pypi:{requirement}: `{' '.join(argv[:4])} ...` failed with exit code {completed.returncode}:\n{tail}"
            )
        return completed.stdout


def _has_pip(python: str) -> bool:
    probe = subprocess.run(
        [python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('pip') is None)"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _parse_requirement(requirement: str) -> Requirement:
    try:
        return Requirement(requirement)
    except InvalidRequirement as exc:
        raise ConnectorError(f"pypi:{requirement}: not a valid requirement ({exc})") from exc
