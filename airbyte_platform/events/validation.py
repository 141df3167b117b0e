"""What the request models' errors share: a body that is not JSON at all is a 400, not a 422.

Each webhook body is parsed and validated in one pass from its raw bytes (`model_validate_json`,
in Rust), so a syntax error arrives as a pydantic error like any other; the receiver answers it
with 400 and the `malformed_json` intake reason, and everything else with 422.
"""

from __future__ import annotations

from pydantic import ValidationError


def malformed_json(exc: ValidationError) -> str | None:
    """The parser's message when the body is not JSON (pydantic's `json_invalid`), else None."""
    for error in exc.errors(include_url=False):
        if error["type"] == "json_invalid":
            return f"malformed JSON: {(error.get('ctx') or {}).get('error', error['msg'])}"
    return None
