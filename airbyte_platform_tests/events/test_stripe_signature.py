"""Stripe-Signature verification: the scheme Stripe documents, secret rotation, both clock directions."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from airbyte_platform.events.stripe_signature import (
    SignatureError,
    stripe_signature_header,
    verify_stripe_signature,
)

BODY = b'{"id": "evt_1", "type": "charge.succeeded"}'
NOW = 1_800_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    # Computed independently of the module: the documented scheme, not our own helper.
    digest = hmac.new(b"whsec_a", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert verify_stripe_signature(BODY, f"t={NOW},v1={digest}", ["whsec_a"], now=NOW) == NOW


def test_every_v1_is_tried_during_a_secret_roll():
    header = stripe_signature_header(BODY, ["whsec_old", "whsec_new"], NOW)
    assert header.count("v1=") == 2
    assert verify_stripe_signature(BODY, header, ["whsec_new"], now=NOW) == NOW
    assert verify_stripe_signature(BODY, header, ["whsec_old"], now=NOW) == NOW
    # Our side rolling: two configured secrets, Stripe signing with the second only.
    assert verify_stripe_signature(
        BODY, stripe_signature_header(BODY, "whsec_b", NOW), ["whsec_a", "whsec_b"], now=NOW
    )


@pytest.mark.parametrize(
    ("body", "secret", "message"),
    [
        (BODY + b" ", "whsec_a", "no v1 signature"),  # tampered body
        (BODY, "whsec_other", "no v1 signature"),  # signed with another secret
    ],
)
def test_a_signature_that_does_not_match_is_refused(body, secret, message):
    header = stripe_signature_header(BODY, secret, NOW)
    with pytest.raises(SignatureError, match=message):
        verify_stripe_signature(body, header, ["whsec_a"], now=NOW)


def test_tolerance_applies_in_both_directions():
    header_at = lambda t: stripe_signature_header(BODY, "whsec_a", t)  # noqa: E731
    assert verify_stripe_signature(BODY, header_at(NOW - 300), ["whsec_a"], now=NOW)
    assert verify_stripe_signature(BODY, header_at(NOW + 300), ["whsec_a"], now=NOW)
    with pytest.raises(SignatureError, match="301s old"):
        verify_stripe_signature(BODY, header_at(NOW - 301), ["whsec_a"], now=NOW)
    with pytest.raises(SignatureError, match="301s in the future"):
        verify_stripe_signature(BODY, header_at(NOW + 301), ["whsec_a"], now=NOW)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing Stripe-Signature"),
        ("", "missing Stripe-Signature"),
        ("v1=abc", "no timestamp"),
        ("t=soon,v1=abc", "is not a unix time"),
        ("t=+1_800_000_000,v1=abc", "is not a unix time"),
        (f"t={'9' * 4000},v1=abc", "is not a unix time"),  # would overflow the clock arithmetic
        (f"t={NOW}", "no v1 signature"),
        (f"t={NOW},v0=abc", "no v1 signature"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(header, message):
    with pytest.raises(SignatureError, match=message):
        verify_stripe_signature(BODY, header, ["whsec_a"], now=NOW)


def test_no_configured_secret_names_the_variable():
    with pytest.raises(SignatureError, match="STRIPE_WEBHOOK_SECRET"):
        verify_stripe_signature(BODY, stripe_signature_header(BODY, "x", NOW), [], now=NOW)


def test_a_non_ascii_signature_is_refused_not_a_crash():
    # Header values arrive as latin-1 text; a str compare_digest would raise TypeError on them (a 500).
    with pytest.raises(SignatureError, match="no v1 signature"):
        verify_stripe_signature(BODY, f"t={NOW},v1=caf\u00e9", ["whsec_a"], now=NOW)
    # A valid v1 next to a garbage one still verifies.
    header = stripe_signature_header(BODY, "whsec_a", NOW) + ",v1=caf\u00e9"
    assert verify_stripe_signature(BODY, header, ["whsec_a"], now=NOW) == NOW
