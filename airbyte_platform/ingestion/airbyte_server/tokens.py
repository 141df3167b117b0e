"""The bearer token of Airbyte's client credentials (AIRBYTE_CLIENT_ID/SECRET): fetched once, reused.

`POST /applications/token` answers `access_token` and `expires_in` (Airbyte: 180 s). The token is
reused by every request and thread of the client until `margin` seconds before it expires, then
fetched again; a token the server rejects (401: it expired early, the server restarted) is
dropped, and the request is sent once more with a fresh one (client.py). One fetch at a time:
threads that need a token while it is being fetched wait for that one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

DEFAULT_LIFETIME = 180.0  # Airbyte's token lifetime, when the answer does not say
REFRESH_MARGIN = 30.0  # refresh this long before expiry (dagster-airbyte refreshes after 150 s)


class TokenCache:
    """`fetch` returns (token, its lifetime in seconds or None); `now` is the clock (injectable)."""

    def __init__(
        self,
        fetch: Callable[[], tuple[str, float | None]],
        now: Callable[[], float],
        margin: float = REFRESH_MARGIN,
    ):
        self._fetch = fetch
        self._now = now
        self._margin = margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._now() >= self._refresh_at:
                token, expires_in = self._fetch()
                lifetime = expires_in or DEFAULT_LIFETIME
                # A lifetime shorter than the margin still gets half of it.
                self._refresh_at = self._now() + max(lifetime - self._margin, lifetime / 2)
                self._token = token
                self.fetches += 1
            return self._token

    def reject(self, token: str) -> None:
        """The server refused `token`: the next `get` fetches another (unless one already did)."""
        with self._lock:
            if self._token == token:
                self._token = None
