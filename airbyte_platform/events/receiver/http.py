"""Small HTTP helpers of the receiver: Content-Type check, bounded body reads and JSON answers."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

JSON = "application/json"


class BodyTooLarge(Exception):
    def __init__(self, size: int, limit: int):
        super().__init__(f"body of {size}+ bytes exceeds the {limit}-byte limit (WEBHOOK_MAX_BODY_BYTES)")


class BodyIncomplete(Exception):
    """The client went away (or was cut off by the body deadline) before the body ended."""


def wrong_content_type(request: Request) -> Response | None:
    """415 unless the body is declared JSON (`application/json`, any parameters, or `+json`)."""
    declared = request.headers.get("content-type")
    media_type = (declared or "").partition(";")[0].strip().lower()
    if media_type == JSON or (media_type.startswith("application/") and media_type.endswith("+json")):
        return None
    got = f"{declared[:100]!r}" if declared else "no Content-Type"
    return refuse(
        415, f"the body must be JSON sent with Content-Type: {JSON} (got {got})", {"Accept-Post": JSON}
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it is known to exceed `limit` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(size, limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise BodyIncomplete(f"the client disconnected after {size} bytes of the body") from None
    return b"".join(chunks)


def answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def refuse(status: int, error: str, headers: dict[str, str] | None = None) -> Response:
    return answer(status, {"error": error}, headers)
