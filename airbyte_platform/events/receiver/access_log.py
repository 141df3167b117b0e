"""Keep secrets in URLs out of the access log, whatever the URL looks like.

Airbyte notifications cannot be signed, so their secret travels in the URL
(`POST /webhooks/airbyte/<AIRBYTE_WEBHOOK_TOKEN>`), and uvicorn's access log writes every URL.
Matching the expected shape is not enough: a sender configured with `/webhook/airbyte/<token>`,
`/webhooks/airbyte//<token>` or `?token=<token>` puts the secret elsewhere. So the log keeps only
what is known to be harmless: path segments that are literal words of the app's own routes
(`webhooks`, `airbyte`, `health`, ...). Every other segment, and any query string, becomes `***`.
A 404 path is still recognisable (`POST /***/airbyte/*** 404`) and never shows a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from starlette.routing import BaseRoute, Mount, Route

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "***"

# Literal segments of every route of the receivers built in this process (the filter is per
# process, like the logger it sits on).
_KNOWN_SEGMENTS: set[str] = set()


def route_segments(routes: Iterable[BaseRoute]) -> set[str]:
    """The literal path segments of `routes` (path parameters such as `{token}` excluded)."""
    words: set[str] = set()
    for route in routes:
        if isinstance(route, Route | Mount):
            words |= {part for part in route.path.split("/") if part and "{" not in part}
        if isinstance(route, Mount):
            words |= route_segments(route.routes)
    return words


def redact_path(text: str) -> str:
    """`text` (a path, with or without query) with every unknown segment and the query masked."""
    path, has_query, _ = text.partition("?")
    safe = "/".join(part if not part or part in _KNOWN_SEGMENTS else REDACTED for part in path.split("/"))
    return f"{safe}?{REDACTED}" if has_query else safe


class PathRedactionFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs `'%s - "%s %s HTTP/%s" %d'` with the path among the args. Every string
        # argument that is a path is redacted, wherever it sits, so a change of format cannot leak.
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_path(arg) if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


class HealthyProbeFilter(logging.Filter):
    """Drop `GET /health` answered 200: probes (Kubernetes, make dev's readiness wait) would fill the log.
    A health check that fails is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (
            len(args) >= 5 and args[1] == "GET" and str(args[2]).rstrip("/") == "/health" and args[4] == 200
        )


def install_access_log_redaction(routes: Iterable[BaseRoute]) -> None:
    """Allow the literal segments of `routes`, and attach the filter once per process."""
    _KNOWN_SEGMENTS.update(route_segments(routes))
    logger = logging.getLogger(ACCESS_LOGGER)
    for kind in (PathRedactionFilter, HealthyProbeFilter):
        if not any(isinstance(existing, kind) for existing in logger.filters):
            logger.addFilter(kind())
