"""uvicorn's httptools protocol with the limits a public endpoint needs and uvicorn lacks.

uvicorn bounds connections (`limit_concurrency`: 503 beyond it) and idle keep-alive connections
(`timeout_keep_alive`), and those options are used as they are (see server.py). Its httptools
protocol has no limit on the request head (a 64 MB header was read in 9 s and 108 MB) and no timeout
for a client that connects and sends nothing, trickles its headers or stalls its body; h11's
`h11_max_incomplete_event_size` bounds only the head, and h11 costs a third of the throughput.
This subclass adds, per connection:

- request head: at most `max_head_bytes` of request line and headers, and `max_headers` headers:
  431, connection closed;
- head deadline: from the connection (or the previous response) to the end of the headers,
  `head_timeout` seconds: 408 (or a plain close when nothing was sent), which also reaps
  connections opened and never used;
- body deadline: from the end of the headers to the end of the body, `body_timeout` seconds: 408,
  and the application sees a disconnect.

These refusals happen below the application, so `on_refused(request target so far, reason)` reports
each one (reasons `head_too_large`, `head_timeout`, `body_timeout`): the receiver counts them with the
application's own refusals (webhook intake metrics).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class HttpLimits:
    max_head_bytes: int = 16 * 1024  # request line + headers; Stripe's and Airbyte's are < 2 KB
    max_headers: int = 64
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: int = 5  # uvicorn's timeout_keep_alive
    max_connections: int = 512  # uvicorn's limit_concurrency (connections + requests in progress)


class _HeadTooLarge(Exception):
    pass


RefusalHook = Callable[[bytes, str], None]


def bounded_httptools_protocol(
    limits: HttpLimits, on_refused: RefusalHook | None = None
) -> type[HttpToolsProtocol]:
    """An HttpToolsProtocol class enforcing `limits` (pass it to uvicorn as `http=`)."""

    def report(target: bytes, reason: str) -> None:
        if on_refused is None:
            return
        try:
            on_refused(target, reason)
        except Exception:  # counting must never break the connection handling
            log.exception("counting a refused request failed")

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            self._deadline: asyncio.TimerHandle | None = None
            self._in_head = True
            self._raw_head_bytes = 0  # bytes received while in the head (coarse, bounds memory)
            self._head_bytes = 0  # request target + header names and values (exact)
            self._header_count = 0

        # -- deadlines ---------------------------------------------------------------------------
        def _arm(self, seconds: float, callback) -> None:  # type: ignore[no-untyped-def]
            self._disarm()
            self._deadline = self.loop.call_later(seconds, callback)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _head_timed_out(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self._raw_head_bytes:
                log.warning(
                    f"request head not complete within {limits.head_timeout:g}s: 408, connection closed"
                )
                self._refuse(
                    408,
                    f"request headers not received within {limits.head_timeout:g} seconds",
                    "head_timeout",
                )
            else:
                self.transport.close()  # opened and never used

        def _body_timed_out(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            log.warning(f"request body not complete within {limits.body_timeout:g}s: 408, connection closed")
            report(self._target(), "body_timeout")
            cycle = self.cycle
            if cycle is not None and not cycle.response_started:
                self._write_error(408, f"request body not received within {limits.body_timeout:g} seconds")
            if cycle is not None:
                cycle.disconnected = True  # the app's receive() now answers http.disconnect
                cycle.message_event.set()
            self.transport.close()

        def _write_error(self, status: int, message: str) -> None:
            body = message.encode("ascii", "replace")
            self.transport.write(
                b"".join(
                    [
                        STATUS_LINE[status],
                        b"content-type: text/plain; charset=utf-8\r\n",
                        b"content-length: %d\r\n" % len(body),
                        b"connection: close\r\n\r\n",
                        body,
                    ]
                )
            )

        def _target(self) -> bytes:
            return bytes(getattr(self, "url", b"") or b"")  # uvicorn's, accumulated by on_url

        def _refuse(self, status: int, message: str, reason: str) -> None:
            report(self._target(), reason)
            self._disarm()
            self._write_error(status, message)
            self.transport.close()

        # -- connection events -------------------------------------------------------------------
        def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def, override]
            super().connection_made(transport)
            self._arm(limits.head_timeout, self._head_timed_out)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            # uvicorn's data_received, plus the head limits (its own turns every callback error
            # into a generic 400).
            self._unset_keepalive_if_required()
            if self._in_head:
                self._raw_head_bytes += len(data)
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserCallbackError as exc:
                if isinstance(exc.__context__, _HeadTooLarge):
                    log.warning(f"request head refused: {exc.__context__}")
                    self._refuse(431, str(exc.__context__), "head_too_large")
                    return
                log.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
                return
            except httptools.HttpParserError:
                log.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
                return
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            # A header still arriving is not counted by on_header yet: bound the raw bytes too
            # (twice the limit: a read may carry the end of one request and the start of the next).
            if self._in_head and self._raw_head_bytes > 2 * limits.max_head_bytes:
                self._refuse(431, f"request headers exceed {limits.max_head_bytes} bytes", "head_too_large")

        # -- parser callbacks --------------------------------------------------------------------
        def _count(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > limits.max_head_bytes:
                raise _HeadTooLarge(f"request headers exceed {limits.max_head_bytes} bytes")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_bytes = 0
            self._header_count = 0

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_count += 1
            if self._header_count > limits.max_headers:
                raise _HeadTooLarge(f"more than {limits.max_headers} request headers")
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._raw_head_bytes = 0
            self._arm(limits.body_timeout, self._body_timed_out)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            self._in_head = True
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self._in_head:
                # Next request's head (or idleness, which uvicorn's keep-alive timeout ends sooner).
                self._arm(limits.head_timeout, self._head_timed_out)

    return BoundedHttpToolsProtocol
