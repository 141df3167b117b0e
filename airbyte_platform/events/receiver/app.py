"""The webhook receiver, a Starlette ASGI app: authenticate, validate, commit to the inbox, then 2xx.

Order of work on every POST: header authentication (path token 403, bearer token 401) →
Content-Type (415) → bounded body read (413) → Stripe signature (400) → JSON and fields
(400/422) → durable inbox write (503 when it fails, so the sender retries) → 200/202. An event
reaches the inbox only after every check passed, and the 2xx is sent only after its transaction
committed. A redelivered event id is acknowledged (200, "duplicate") and not stored again.

Every route answers with or without a trailing slash: a redirect (Starlette's default 307) is a
failed delivery for Stripe. `/health` runs the inbox's write probe (see `Inbox.ping`), so it
answers 200 only when a POST would be stored.

Every webhook request is counted in the inbox (`IntakeKey`: source, outcome, reason) for the
Prometheus exporter, which runs in another process: accepted and duplicate events in the
transaction that stores them, refusals through the group-commit writer (see group_commit.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, StrictStr, StringConstraints, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from airbyte_platform.events.inbox import (
    Inbox,
    InboxError,
    IntakeKey,
    NewEvent,
    Source,
    WriteOutcome,
    open_inbox,
)
from airbyte_platform.events.inbox.group_commit import GroupCommitWriter
from airbyte_platform.events.notifications import NotificationError, parse_airbyte_webhook
from airbyte_platform.events.receiver.access_log import install_access_log_redaction
from airbyte_platform.events.receiver.config import ReceiverConfig
from airbyte_platform.events.receiver.http import (
    BodyIncomplete,
    BodyTooLarge,
    answer,
    read_body,
    refuse,
    wrong_content_type,
)
from airbyte_platform.events.routes import (
    AIRBYTE_NOTIFICATIONS,
    EVENT_DRIVEN_SYNC,
    TriggerError,
    idempotency_key,
    parse_trigger,
)
from airbyte_platform.events.stripe_signature import SignatureError, verify_stripe_signature
from airbyte_platform.events.validation import malformed_json

log = logging.getLogger("airbyte_platform.events.receiver")

RETRY_LATER = {"Retry-After": "5"}
SOURCES: tuple[Source, ...] = ("stripe", "airbyte", "trigger")


class StripeEventFields(BaseModel):
    """What the receiver needs of a Stripe event (parsed in one pass, in Rust); the verified raw
    body is what is stored. The other bodies have their models next to their rules:
    `routes.TRIGGER_REQUEST` (shared with the sensors) and `notifications.AIRBYTE_WEBHOOK`."""

    model_config = ConfigDict(extra="ignore")
    id: Annotated[StrictStr, StringConstraints(min_length=1)]
    type: StrictStr


class WebhookEndpoints:
    """The endpoints, sharing the config and the group-commit writer of one receiver process."""

    def __init__(
        self,
        config: ReceiverConfig,
        inbox: Inbox | None = None,
        writer: Callable[[Inbox], GroupCommitWriter] = GroupCommitWriter,
    ):
        self.config = config
        self._inbox = inbox
        self._new_writer = writer
        self.writer: GroupCommitWriter | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        inbox = self._inbox or open_inbox(self.config.inbox_dsn)
        pruned = inbox.prune(time.time() - self.config.retention_days * 86400)
        if pruned:
            log.info(f"pruned {pruned} inbox events older than {self.config.retention_days} days")
        self.writer = self._new_writer(inbox)
        self.writer.start()
        log.info(f"webhook inbox ready ({inbox.backend})")
        try:
            yield
        finally:
            self.writer.stop()
            if self._inbox is None:
                inbox.close()

    # -- counting --------------------------------------------------------------------------------
    def count(self, source: str, outcome: str, reason: str) -> None:
        if self.writer is not None:
            self.writer.count(IntakeKey(source, outcome, reason))

    def protocol_refused(self, target: bytes, reason: str) -> None:
        """A request the HTTP layer refused (431, 408), counted under the webhook its target names."""
        path = target.split(b"?", 1)[0].decode("latin-1")
        for source in SOURCES:
            if path == f"/webhooks/{source}" or path.startswith(f"/webhooks/{source}/"):
                self.count(source, "rejected", reason)
                return

    def reject(
        self, source: str, reason: str, status: int, error: str, headers: dict[str, str] | None = None
    ) -> Response:
        """Refuse the request (`status`, `error` for the sender) and count it as rejected for `reason`."""
        self.count(source, "rejected", reason)
        return refuse(status, error, headers)

    async def unrouted(self, request: Request, exc: Exception) -> Response:
        """404 and 405 (a path or method no endpoint serves), counted like the other refusals."""
        assert isinstance(exc, HTTPException)
        parts = request.url.path.split("/")
        # Only a known word becomes the label, never the path (it may hold a token, and labels
        # must stay few).
        source = parts[2] if len(parts) > 2 and parts[1] == "webhooks" and parts[2] in SOURCES else "unknown"
        reason = "unknown_route" if exc.status_code == 404 else "method_not_allowed"
        return self.reject(source, reason, exc.status_code, str(exc.detail), exc.headers)

    # -- shared steps ----------------------------------------------------------------------------
    async def _body(self, request: Request, source: Source) -> bytes | Response:
        wrong_type = wrong_content_type(request)
        if wrong_type is not None:
            self.count(source, "rejected", "wrong_content_type")
            return wrong_type
        try:
            return await read_body(request, self.config.max_body_bytes)
        except BodyTooLarge as exc:
            return self.reject(source, "too_large", 413, str(exc))
        except BodyIncomplete as exc:
            # nobody is listening any more; nothing was stored
            return self.reject(source, "incomplete_body", 400, str(exc))

    async def _store(self, event: NewEvent, accepted_status: int = 200) -> Response:
        assert self.writer is not None, "the receiver's lifespan did not run"
        try:
            outcome = await self.writer.write(event)
        except InboxError as exc:
            log.error(f"inbox write failed, {event.source} event {event.event_id} not accepted: {exc}")
            self.count(event.source, "unavailable", "inbox_error")  # written once the inbox is back
            return refuse(503, "the event could not be stored; nothing was stored, retry later", RETRY_LATER)
        if outcome is WriteOutcome.DUPLICATE:
            return answer(200, {"status": "duplicate", "event_id": event.event_id})
        return answer(accepted_status, {"status": "accepted", "event_id": event.event_id})

    # -- endpoints -------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        if self.writer is None:
            return refuse(503, "starting")
        timeout = self.config.health_timeout_seconds
        try:
            await asyncio.wait_for(self.writer.ping(), timeout)
        except TimeoutError:
            log.error(
                f"health probe: the webhook inbox write path did not answer within {timeout:g}s "
                "(a lock held elsewhere, or a hung disk); POSTs are waiting too"
            )
            return refuse(
                503, f"webhook inbox ({self.writer.inbox.backend}) not answering; see the receiver log"
            )
        except InboxError as exc:
            # The reason goes to the log only: the probe endpoint is public, and driver errors name
            # hosts, users and paths.
            log.error(f"health probe: webhook inbox unavailable: {exc}")
            return refuse(
                503, f"webhook inbox ({self.writer.inbox.backend}) unavailable; see the receiver log"
            )
        return answer(200, {"status": "ok", "inbox": self.writer.inbox.backend})

    async def stripe(self, request: Request) -> Response:
        body = await self._body(request, "stripe")
        if isinstance(body, Response):
            return body
        try:
            verify_stripe_signature(
                body,
                request.headers.get("stripe-signature"),
                self.config.secrets.stripe_secrets,
                tolerance_seconds=self.config.stripe_tolerance_seconds,
            )
        except SignatureError as exc:
            log.warning(f"Stripe webhook refused: {exc}")
            return self.reject("stripe", "bad_signature", 400, str(exc))
        try:
            fields = StripeEventFields.model_validate_json(body)
        except ValidationError as exc:
            not_json = malformed_json(exc)
            if not_json:
                return self.reject("stripe", "malformed_json", 400, not_json)
            return self.reject(
                "stripe",
                "invalid_event",
                422,
                f'a Stripe event needs a string "id" and "type" ({_stripe_problems(exc)})',
            )
        return await self._store(
            NewEvent(
                event_id=fields.id,
                source="stripe",
                route=EVENT_DRIVEN_SYNC,
                kind=fields.type,
                payload=body.decode("utf-8", errors="replace"),
                received_at=time.time(),
            )
        )

    async def airbyte(self, request: Request) -> Response:
        token = request.path_params["token"]
        if not hmac.compare_digest(token.encode(), self.config.secrets.airbyte_token.encode()):
            log.warning("Airbyte notification refused: wrong path token")
            return self.reject(
                "airbyte", "bad_token", 403, "the path token does not match AIRBYTE_WEBHOOK_TOKEN"
            )
        body = await self._body(request, "airbyte")
        if isinstance(body, Response):
            return body
        try:
            notification = parse_airbyte_webhook(body)
        except NotificationError as exc:
            return self.reject(
                "airbyte", exc.reason, 400 if exc.reason == "malformed_json" else 422, str(exc)
            )
        if notification is None:
            self.count("airbyte", "ignored", "test_notification")
            return answer(200, {"status": "ignored", "reason": "Airbyte test notification: nothing to sync"})
        return await self._store(
            NewEvent(
                event_id=notification.event_id,
                source="airbyte",
                route=AIRBYTE_NOTIFICATIONS,
                kind=notification.kind,
                payload=body.decode("utf-8", errors="replace"),
                received_at=time.time(),
            )
        )

    async def trigger(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = self.config.secrets.trigger_token.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            return self.reject(
                "trigger",
                "bad_token",
                401,
                "missing or wrong bearer token (Authorization: Bearer <WEBHOOK_TRIGGER_TOKEN>)",
                {"WWW-Authenticate": 'Bearer realm="webhooks"'},
            )
        body = await self._body(request, "trigger")
        if isinstance(body, Response):
            return body
        try:
            trigger = parse_trigger(body, self.config.settings)
            key = idempotency_key(request.headers.get("idempotency-key"), trigger.event_id)
        except TriggerError as exc:
            status = 400 if exc.reason == "malformed_json" else 422
            return self.reject("trigger", exc.reason, status, str(exc))
        return await self._store(
            NewEvent(
                event_id=f"trigger-{key or uuid.uuid4().hex}",
                source="trigger",
                route=trigger.job,
                kind=trigger.job,
                payload=orjson.dumps({"job": trigger.job, "run_config": trigger.run_config_dict()}).decode(),
                received_at=time.time(),
            ),
            accepted_status=202,
        )


def _stripe_problems(exc: ValidationError) -> str:
    """What is wrong, per field, e.g. `"id" is missing, "type" is not a string`."""
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        if not error["loc"]:
            problems.append("the body is not a JSON object")
            continue
        field = error["loc"][0]
        problems.append(
            f'"{field}" is missing' if error["type"] == "missing"
            else f'"{field}" is empty' if error["type"] == "string_too_short"
            else f'"{field}" is not a string'
        )  # fmt: skip
    return ", ".join(problems)


def _with_and_without_slash(path: str, endpoint: Callable[[Request], Any], methods: list[str]) -> list[Route]:
    return [Route(path, endpoint, methods=methods), Route(f"{path}/", endpoint, methods=methods)]


def build_receiver_app(
    config: ReceiverConfig,
    inbox: Inbox | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    writer: Callable[[Inbox], GroupCommitWriter] = GroupCommitWriter,
) -> Starlette:
    """The ASGI app.

    `inbox`: an already-open inbox (tests); by default it opens `config.inbox_dsn`.
    `extra_routes`: more routes or `Mount`s served by the same process (after the webhook routes),
    e.g. another Starlette app under a prefix. Their literal path segments are shown in the access
    log; everything else in a URL is masked there.
    `writer`: builds the inbox writer (bench/inbox_backends.py compares variants of it).
    """
    endpoints = WebhookEndpoints(config, inbox, writer)
    routes: list[BaseRoute] = [
        *_with_and_without_slash("/health", endpoints.health, ["GET"]),
        *_with_and_without_slash("/webhooks/stripe", endpoints.stripe, ["POST"]),
        *_with_and_without_slash("/webhooks/airbyte/{token}", endpoints.airbyte, ["POST"]),
        *_with_and_without_slash("/webhooks/trigger", endpoints.trigger, ["POST"]),
        *extra_routes,
    ]
    install_access_log_redaction(routes)  # no token may reach the access log, whatever the URL
    app = Starlette(
        routes=routes,
        lifespan=endpoints.lifespan,
        exception_handlers={404: endpoints.unrouted, 405: endpoints.unrouted},
    )
    app.router.redirect_slashes = False  # a 307 is a failed delivery for Stripe
    app.state.endpoints = endpoints
    return app
