"""Reading a connector subprocess: stdout lines of any length, and stderr drained without deadlock."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from airbyte_platform.ingestion.embedded.process import STDERR_TAIL_LINES, ConnectorProcess


def _run(tmp_path: Path, code: str) -> tuple[list[bytes], str, int]:
    with ConnectorProcess(
        [sys.executable, "-c", code], cwd=tmp_path, log=logging.getLogger("t"), label="t"
    ) as process:
        lines: list[bytes] = []
        for block in process.blocks():
            lines += bytes(block.lines).split(b"\n")[:-1]  # every block ends with a newline
            block.release()
        code_ = process.wait()
        return lines, process.stderr_tail(), code_


def test_lines_of_any_length_and_an_unterminated_last_line(tmp_path: Path):
    code = "import sys; sys.stdout.write('a' * 3_000_000 + '\\n' + 'b\\n\\nc')"

    lines, _, exit_code = _run(tmp_path, code)

    assert [len(line) for line in lines] == [3_000_000, 1, 0, 1]
    assert lines[1:] == [b"b", b"", b"c"] and exit_code == 0


def test_a_connector_flooding_stderr_does_not_block_and_its_tail_is_kept(tmp_path: Path):
    code = (
        "import sys\n"
        "for i in range(20000): sys.stderr.write(f'warning {i}\\n')\n"  # ~300 KB: more than a pipe holds
        'print(\'{"type": "LOG"}\')\n'
        "sys.exit(2)"
    )

    lines, tail, exit_code = _run(tmp_path, code)

    assert lines == [b'{"type": "LOG"}'] and exit_code == 2
    assert tail.splitlines() == [f"warning {i}" for i in range(20000 - STDERR_TAIL_LINES, 20000)]
