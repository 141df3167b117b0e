"""`python -m airbyte_platform.ingestion.sample_sources <shape> spec|check|discover|read ...`

The Airbyte protocol's connector command line: messages go to stdout as JSON lines; a bad input
gives a TRACE error (or a FAILED connection status for `check`) naming what to fix, and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, BinaryIO

from airbyte_platform.ingestion.sample_sources import messages
from airbyte_platform.ingestion.sample_sources.config import (
    DOCUMENTATION_URL,
    config_problems,
    connection_specification,
    parse_config,
)
from airbyte_platform.ingestion.sample_sources.read import (
    InjectedFailure,
    ReadError,
    RecordEmitter,
    plan_reads,
)
from airbyte_platform.ingestion.sample_sources.shapes import SHAPES
from airbyte_platform.ingestion.sample_sources.streams import Shape


class InputError(Exception):
    """An input file is missing or not JSON."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airbyte_platform.ingestion.sample_sources",
        description="Sample Airbyte-protocol sources shaped like real connectors.",
    )
    parser.add_argument("shape", choices=sorted(SHAPES), help="which source to imitate")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("spec", help="print the connector specification")
    for name in ("check", "discover", "read"):
        command = commands.add_parser(name)
        command.add_argument("--config", required=True, type=Path)
        if name == "read":
            command.add_argument("--catalog", required=True, type=Path)
            command.add_argument("--state", type=Path)
    return parser


def main(argv: list[str] | None = None, out: BinaryIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout.buffer
    shape = SHAPES[args.shape]
    try:
        return _run(shape, args, out)
    except InputError as exc:
        out.write(messages.error(str(exc)))
    except ReadError as exc:
        out.write(messages.error(f"{shape.name} sample source: {exc}", stream=exc.stream))
    except InjectedFailure as exc:
        print(f"{shape.name} sample source: {exc} (injected failure)", file=sys.stderr)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not ours to report; silence the interpreter's flush too.
        sys.stdout = None  # type: ignore[assignment]
    out.flush()
    return 1


def _run(shape: Shape, args: argparse.Namespace, out: BinaryIO) -> int:
    if args.command == "spec":
        out.write(messages.spec(connection_specification(shape), DOCUMENTATION_URL))
        return 0
    raw_config = _load_json(args.config, "config")
    problems = config_problems(shape, raw_config)
    if args.command == "check":
        out.write(messages.connection_status(problems))
        return 0
    if problems:
        raise InputError(f"{shape.name} sample source: invalid config {args.config}: {'; '.join(problems)}")
    if args.command == "discover":
        out.write(messages.catalog(shape.streams))
        return 0
    config = parse_config(raw_config)
    catalog = _load_json(args.catalog, "catalog")
    state = _load_json(args.state, "state") if args.state else None
    reads = plan_reads(shape, catalog, state)
    RecordEmitter(out, config).run(reads)
    return 0


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InputError(f"the {what} file {path} is not JSON: {exc}") from exc
