"""`processed/stripe`: the DAG's `process_stripe_data` task (DatabricksRunNowOperator)."""

import time

import dagster as dg

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.core.specs import LAKE_PREFIX
from airbyte_platform.transforms.databricks.runners import StripeTransformResource

PROCESSED_STRIPE = dg.AssetKey(["processed", "stripe"])
STRIPE_LAKE = connection_named("stripe_to_s3")


def stripe_paths(lake_root: str) -> tuple[str, str]:
    """(s3_path, output_path) as the DAG passed them: <lake>/airbyte/stripe/ and <lake>/processed/stripe/."""
    return f"{lake_root}/{LAKE_PREFIX}/{STRIPE_LAKE.group_name}", f"{lake_root}/processed/stripe"


@dg.asset(
    key=PROCESSED_STRIPE,
    deps=[STRIPE_LAKE.asset_key("charges"), STRIPE_LAKE.asset_key("refunds")],
    group_name="databricks_transforms",
    kinds={"databricks", "spark", "parquet"},
    owners=["team:data-platform"],
    description=(
        "Stripe revenue processed from the lake: `daily_revenue` (day, currency) and `customer_revenue`, "
        "gross, refunded and net amounts in cents. Code: transforms/databricks/stripe_transform.py; "
        "Databricks job DATABRICKS_STRIPE_JOB_ID in prod, local Spark locally."
    ),
)
def processed_stripe(
    context: dg.AssetExecutionContext,
    databricks_transform: StripeTransformResource,
    destinations: DestinationsResource,
) -> dg.MaterializeResult:
    s3_path, output_path = stripe_paths(destinations.lake_root)
    started = time.monotonic()
    metadata = databricks_transform.run(context, s3_path, output_path)
    metadata.setdefault("duration_seconds", round(time.monotonic() - started, 1))
    return dg.MaterializeResult(metadata={"s3_path": s3_path, "output_path": output_path, **metadata})
