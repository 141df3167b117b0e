"""Driver errors without the DSN's password.

libpq quotes the connection string in some errors (a malformed URI: `end of string reached ... in
URI: "postgresql://user:password@[host..."`). Those messages become sensor skip reasons, check
descriptions and receiver logs, so every error text built from a DSN goes through `redact_dsn`.
"""

from __future__ import annotations

import re

MASK = "***"
_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s\"']*:)[^@\s\"']*@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_dsn(text: str, dsn: str | None = None) -> str:
    """`text` with the whole `dsn`, and any password in URI or keyword form, masked."""
    if dsn:
        text = text.replace(dsn, "<DSN>")
    text = _URI_PASSWORD.sub(rf"\g<1>{MASK}@", text)
    return _KEYWORD_PASSWORD.sub(rf"\g<1>{MASK}", text)
