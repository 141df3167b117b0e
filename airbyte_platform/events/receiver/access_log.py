"""Keep the Airbyte path token out of the access log.

Airbyte notifications cannot be signed, so their secret travels in the URL
(`POST /webhooks/airbyte/<AIRBYTE_WEBHOOK_TOKEN>`), and uvicorn's access log writes every URL. This
filter rewrites that path segment before the line is formatted, wrong tokens included (a near-miss
of the real token is as sensitive as the token).
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "***"
_TOKEN_IN_PATH = re.compile(r"(/webhooks/airbyte/)[^/?#\s\"]*")


def redact_path(text: str) -> str:
    return _TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


class PathTokenFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs `'%s - "%s %s HTTP/%s" %d'` with the path among the args; redact every
        # string argument and the message itself, so a change of format cannot leak the token.
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True


def install_access_log_redaction() -> None:
    """Attach the filter to uvicorn's access logger once per process (idempotent)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, PathTokenFilter) for existing in logger.filters):
        logger.addFilter(PathTokenFilter())
