"""Small facts about a table that the transform-output checks compare: duplicate keys, net revenue.

Pure functions of pandas frames, so the rule of each check reads in one place and is tested
without a warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    import pandas as pd


def duplicate_keys(frame: pd.DataFrame, keys: Sequence[str]) -> int:
    """How many rows repeat a key already seen (0 when the keys are unique)."""
    return int(frame.duplicated(subset=list(keys)).sum()) if len(frame) else 0


def net_by_currency(
    frame: pd.DataFrame, amount: str = "net_amount", currency: str = "currency"
) -> dict[str, int]:
    if frame.empty:
        return {}
    totals = frame.groupby(frame[currency].str.lower())[amount].sum()
    return {str(key): int(value) for key, value in totals.items()}


def raw_stripe_net(charges: pd.DataFrame, refunds: pd.DataFrame) -> tuple[dict[str, int], int]:
    """Net revenue per currency of the raw Stripe streams: succeeded charges less their refunds.

    The definition of `processed/stripe` (stripe_transform.py), restated independently: charges with
    status `succeeded`, refunds that did not fail, each refund counted against its charge. The lake
    only appends (as Airbyte's S3 destination does), so a record synced twice is counted once here
    (the last copy of each id wins); the second value is how many duplicate rows were dropped.
    """
    duplicates = duplicate_keys(charges, ["id"]) + duplicate_keys(refunds, ["id"])
    charges = charges.drop_duplicates(subset=["id"], keep="last")
    refunds = refunds.drop_duplicates(subset=["id"], keep="last") if len(refunds) else refunds
    succeeded = charges[charges["status"] == "succeeded"]
    gross = net_by_currency(succeeded.assign(net_amount=succeeded["amount"].astype("int64")))
    if len(refunds):
        live = refunds[refunds["status"] != "failed"]
        refunded = live.merge(
            succeeded[["id", "currency"]].rename(columns={"id": "charge", "currency": "charge_currency"}),
            on="charge",
        )
        for currency, amount in net_by_currency(
            refunded.assign(net_amount=refunded["amount"].astype("int64")), currency="charge_currency"
        ).items():
            gross[currency] = gross.get(currency, 0) - amount
    return gross, duplicates


def compare_totals(expected: dict[str, int], actual: dict[str, int], what: str) -> tuple[bool, str | None]:
    """(equal, a description of every currency that differs)."""
    differing = sorted(c for c in set(expected) | set(actual) if expected.get(c, 0) != actual.get(c, 0))
    if not differing:
        return True, None
    details = "; ".join(f"{c}: expected {expected.get(c, 0)}, found {actual.get(c, 0)}" for c in differing)
    return False, f"{what} does not reconcile ({details})"


def check(
    asset: dg.AssetKey,
    name: str,
    passed: bool,
    description: str | None,
    metadata: dict[str, dg.RawMetadataValue],
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=name,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )
