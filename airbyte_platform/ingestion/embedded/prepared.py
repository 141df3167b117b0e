"""What `spec`, `check` and `discover` answered, kept per connector version and config.

The Airbyte platform asks a connector version for its spec once, checks a connection when it is set
up, and keeps the discovered catalog with the connection (refreshing it on schedule or on demand),
rather than paying three connector start-ups before every sync (4.8 s of a 27 s faker sync). The
runner does the same: the answers are kept on disk next to the connectors (each Dagster run is a new
process), keyed by the connector reference, a fingerprint of its code and the config, and reused
for PREPARED_TTL_SECONDS. A failed sync forgets them, so the next one checks and discovers again
(expired credentials, a changed schema); so does a declared stream the kept catalog lacks.
Only connectors whose code is pinned are kept: a `pypi:` version pinned with `==`, a `python:`
script (by its content) and the sample sources (by theirs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airbyte_platform.ingestion.embedded.connectors import ConnectorCommand

PREPARED_TTL_SECONDS = 24 * 3600.0  # Airbyte refreshes a connection's schema daily at most
_SAMPLE_SOURCES = Path(__file__).resolve().parent.parent / "sample_sources"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    spec: dict[str, Any]
    discovered: list[dict[str, Any]]
    prepared_at: float  # epoch seconds


@dataclass
class PreparedCache:
    directory: Path
    ttl_seconds: float = PREPARED_TTL_SECONDS
    clock: Callable[[], float] = field(default=time.time)  # wall time: entries outlive processes

    def key(self, command: ConnectorCommand, config: Mapping[str, Any]) -> str | None:
        """The entry of this connector version and config, or None when its code is not pinned."""
        fingerprint = _fingerprint(command)
        if fingerprint is None:
            return None
        material = json.dumps([command.reference, fingerprint, config], sort_keys=True, default=str)
        return hashlib.sha256(material.encode()).hexdigest()  # the config itself is never stored

    def get(self, key: str) -> Prepared | None:
        try:
            entry = json.loads((self.directory / f"{key}.json").read_text())
            prepared = Prepared(entry["spec"], list(entry["discovered"]), float(entry["prepared_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not 0 <= self.clock() - prepared.prepared_at < self.ttl_seconds:
            return None
        return prepared

    def put(self, key: str, spec: Mapping[str, Any], discovered: list[dict[str, Any]]) -> None:
        entry = {"spec": spec, "discovered": discovered, "prepared_at": self.clock()}
        target = self.directory / f"{key}.json"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(entry))
            temporary.replace(target)  # whole or absent, for concurrent syncs
        except OSError as exc:  # only a cache
            _log.debug(f"cannot keep the prepared answers in {target}: {exc}")

    def forget(self, key: str) -> None:
        try:
            (self.directory / f"{key}.json").unlink(missing_ok=True)
        except OSError as exc:
            _log.debug(f"cannot forget prepared answers {key}: {exc}")


def _fingerprint(command: ConnectorCommand) -> str | None:
    scheme = command.reference.partition(":")[0]
    if scheme == "pypi":
        return "pinned" if command.spec_file is not None else None
    if scheme == "python":
        return _digest([Path(command.argv[-1])])
    if scheme == "sample":
        return _digest(sorted(_SAMPLE_SOURCES.rglob("*.py")))
    return None


def _digest(paths: list[Path]) -> str | None:
    digest = hashlib.sha256()
    try:
        for path in paths:
            digest.update(path.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()
