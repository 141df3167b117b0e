"""Stripe webhook signatures: `Stripe-Signature: t=<unix time>,v1=<hex>,v1=<hex>,...`.

Each `v1` is HMAC-SHA256 of `"{t}.{raw body}"` keyed by an endpoint secret (`whsec_...`). During a
secret roll Stripe signs with both the old and the new secret, so every `v1` is tried against every
configured secret.

Why not `stripe.Webhook.construct_event`: it would add the whole Stripe SDK for twenty lines, and it
only rejects timestamps that are too old; a timestamp far in the future (a clock gone wrong, or a
replay prepared in advance) is rejected here too.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

DEFAULT_TOLERANCE_SECONDS = 300  # Stripe's own default
MAX_TIMESTAMP_DIGITS = 12


class SignatureError(ValueError):
    """The request is not a Stripe delivery we can trust; the message says what is wrong."""


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            # Plain ASCII digits only, and at most 12 of them: `int()` alone would accept "+1_0" or
            # other scripts' digits, and a 4,000-digit value would overflow the float clock
            # arithmetic below (a 500 instead of a 400).
            value = value.strip()
            if not (value.isascii() and value.isdigit() and len(value) <= MAX_TIMESTAMP_DIGITS):
                raise SignatureError(f"Stripe-Signature timestamp t={value[:20]!r} is not a unix time")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.strip())
    if timestamp is None:
        raise SignatureError("Stripe-Signature has no timestamp (t=...)")
    if not signatures:
        raise SignatureError("Stripe-Signature has no v1 signature (only v1 is accepted)")
    return timestamp, signatures


def expected_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_stripe_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Return the signed timestamp when `header` is a valid signature of `payload`; raise SignatureError."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    if not secrets:
        raise SignatureError("no Stripe webhook secret is configured (STRIPE_WEBHOOK_SECRET)")
    timestamp, signatures = _parse_header(header)
    skew = (time.time() if now is None else now) - timestamp
    if skew > tolerance_seconds:
        raise SignatureError(
            f"Stripe-Signature timestamp is {skew:.0f}s old (tolerance {tolerance_seconds}s): stale or replayed"
        )
    if -skew > tolerance_seconds:
        raise SignatureError(
            f"Stripe-Signature timestamp is {-skew:.0f}s in the future (tolerance {tolerance_seconds}s)"
        )
    # Compare against every (secret, v1) pair without stopping early, so timing does not reveal
    # which secret or which signature position came close.
    # Bytes, not str: `compare_digest` raises TypeError on a non-ASCII str, and header values
    # are whatever the sender put there.
    candidates = [candidate.encode("utf-8", "surrogateescape") for candidate in signatures]
    matched = False
    for secret in secrets:
        expected = expected_signature(payload, secret, timestamp).encode()
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError(
            "no v1 signature in Stripe-Signature matches the payload and the endpoint secret"
        )
    return timestamp


def stripe_signature_header(
    payload: bytes, secrets: str | Sequence[str], timestamp: int | None = None
) -> str:
    """Build a `Stripe-Signature` header the way Stripe does (one v1 per secret): for tests, demos and bench."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    parts = [f"t={timestamp}", *(f"v1={expected_signature(payload, key, timestamp)}" for key in keys)]
    return ",".join(parts)
