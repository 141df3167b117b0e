"""The webhook receiver, a Starlette ASGI app: authenticate, validate, commit to the inbox, then 2xx.

Order of work on every POST: bounded body read (413) → authentication (Stripe signature 400,
path token 403, bearer token 401) → JSON and fields (400/422) → durable inbox write (503 when
it fails, so the sender retries) → 200/202. An event reaches the inbox only after every check
passed, and the 2xx is sent only after its transaction committed. A redelivered event id is
acknowledged (200, "duplicate") and not stored again.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airbyte_platform.events.inbox import Inbox, InboxError, NewEvent, WriteOutcome, open_inbox
from airbyte_platform.events.inbox.group_commit import GroupCommitWriter
from airbyte_platform.events.notifications import (
    NotificationError,
    is_test_notification,
    parse_airbyte_notification,
)
from airbyte_platform.events.receiver.access_log import install_access_log_redaction
from airbyte_platform.events.receiver.config import ReceiverConfig
from airbyte_platform.events.receiver.http import BodyTooLarge, answer, parse_json, read_body, refuse
from airbyte_platform.events.routes import (
    AIRBYTE_NOTIFICATIONS,
    EVENT_DRIVEN_SYNC,
    TriggerError,
    validate_trigger,
)
from airbyte_platform.events.stripe_signature import SignatureError, verify_stripe_signature

log = logging.getLogger("airbyte_platform.events.receiver")

MAX_IDEMPOTENCY_KEY = 200
RETRY_LATER = {"Retry-After": "5"}


class WebhookEndpoints:
    """The endpoints, sharing the config and the group-commit writer of one receiver process."""

    def __init__(self, config: ReceiverConfig, inbox: Inbox | None = None):
        self.config = config
        self._inbox = inbox
        self.writer: GroupCommitWriter | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        inbox = self._inbox or open_inbox(self.config.inbox_dsn)
        pruned = inbox.prune(time.time() - self.config.retention_days * 86400)
        if pruned:
            log.info(f"pruned {pruned} inbox events older than {self.config.retention_days} days")
        self.writer = GroupCommitWriter(inbox)
        self.writer.start()
        log.info(f"webhook inbox ready ({inbox.backend})")
        try:
            yield
        finally:
            self.writer.stop()
            if self._inbox is None:
                inbox.close()

    # -- shared steps ----------------------------------------------------------------------------
    async def _body(self, request: Request) -> bytes | Response:
        try:
            return await read_body(request, self.config.max_body_bytes)
        except BodyTooLarge as exc:
            return refuse(413, str(exc))

    async def _store(self, event: NewEvent, accepted_status: int = 200) -> Response:
        assert self.writer is not None, "the receiver's lifespan did not run"
        try:
            outcome = await self.writer.write(event)
        except InboxError as exc:
            log.error(f"inbox write failed, {event.source} event {event.event_id} not accepted: {exc}")
            return refuse(503, "the event could not be stored; nothing was stored, retry later", RETRY_LATER)
        if outcome is WriteOutcome.DUPLICATE:
            return answer(200, {"status": "duplicate", "event_id": event.event_id})
        return answer(accepted_status, {"status": "accepted", "event_id": event.event_id})

    # -- endpoints -------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        if self.writer is None:
            return refuse(503, "starting")
        try:
            await self.writer.ping()
        except InboxError as exc:
            # The reason goes to the log only: the probe endpoint is public, and driver errors name
            # hosts, users and paths.
            log.error(f"health probe: webhook inbox unavailable: {exc}")
            return refuse(
                503, f"webhook inbox ({self.writer.inbox.backend}) unavailable; see the receiver log"
            )
        return answer(200, {"status": "ok", "inbox": self.writer.inbox.backend})

    async def stripe(self, request: Request) -> Response:
        body = await self._body(request)
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
            return refuse(400, str(exc))
        try:
            payload = parse_json(body)
        except ValueError as exc:
            return refuse(400, str(exc))
        event_id = payload.get("id") if isinstance(payload, dict) else None
        event_type = payload.get("type") if isinstance(payload, dict) else None
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
            return refuse(422, 'a Stripe event needs a string "id" and "type"')
        return await self._store(
            NewEvent(
                event_id=event_id,
                source="stripe",
                route=EVENT_DRIVEN_SYNC,
                kind=event_type,
                payload=body.decode("utf-8", errors="replace"),
                received_at=time.time(),
            )
        )

    async def airbyte(self, request: Request) -> Response:
        token = request.path_params["token"]
        if not hmac.compare_digest(token.encode(), self.config.secrets.airbyte_token.encode()):
            log.warning("Airbyte notification refused: wrong path token")
            return refuse(403, "the path token does not match AIRBYTE_WEBHOOK_TOKEN")
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        try:
            payload = parse_json(body)
        except ValueError as exc:
            return refuse(400, str(exc))
        if is_test_notification(payload):
            return answer(200, {"status": "ignored", "reason": "Airbyte test notification: nothing to sync"})
        try:
            notification = parse_airbyte_notification(payload)
        except NotificationError as exc:
            return refuse(422, str(exc))
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
            return refuse(
                401,
                "missing or wrong bearer token (Authorization: Bearer <WEBHOOK_TRIGGER_TOKEN>)",
                {"WWW-Authenticate": 'Bearer realm="webhooks"'},
            )
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        try:
            payload = parse_json(body)
        except ValueError as exc:
            return refuse(400, str(exc))
        if not isinstance(payload, dict):
            return refuse(422, 'expected a JSON object: {"job": "<job name>", "run_config": {...}}')
        try:
            run_config = validate_trigger(payload.get("job"), payload.get("run_config"), self.config.settings)
        except TriggerError as exc:
            return refuse(422, str(exc))
        key = _idempotency_key(request, payload)
        if isinstance(key, Response):
            return key
        job = payload["job"]
        return await self._store(
            NewEvent(
                event_id=f"trigger-{key}",
                source="trigger",
                route=job,
                kind=job,
                payload=orjson.dumps({"job": job, "run_config": run_config}).decode(),
                received_at=time.time(),
            ),
            accepted_status=202,
        )


def _idempotency_key(request: Request, payload: dict[str, Any]) -> str | Response:
    """The caller's key (Idempotency-Key header or "event_id"), so a retried trigger launches once."""
    key = request.headers.get("idempotency-key") or payload.get("event_id")
    if key is None:
        return uuid.uuid4().hex
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        return refuse(
            422, f"the idempotency key must be printable text of 1 to {MAX_IDEMPOTENCY_KEY} characters"
        )
    return key.strip()


def build_receiver_app(config: ReceiverConfig, inbox: Inbox | None = None) -> Starlette:
    """The ASGI app. `inbox`: an already-open inbox (tests); by default it opens `config.inbox_dsn`."""
    install_access_log_redaction()  # the Airbyte path token must not reach the access log
    endpoints = WebhookEndpoints(config, inbox)
    app = Starlette(
        routes=[
            Route("/health", endpoints.health, methods=["GET"]),
            Route("/webhooks/stripe", endpoints.stripe, methods=["POST"]),
            Route("/webhooks/airbyte/{token}", endpoints.airbyte, methods=["POST"]),
            Route("/webhooks/trigger", endpoints.trigger, methods=["POST"]),
        ],
        lifespan=endpoints.lifespan,
    )
    app.state.endpoints = endpoints
    return app
