"""The sample sources' shapes, by the name used in `sample:<shape>` connector references."""

from __future__ import annotations

from airbyte_platform.ingestion.sample_sources.shapes import app_postgres, hubspot, salesforce, stripe
from airbyte_platform.ingestion.sample_sources.streams import Shape

SHAPES: dict[str, Shape] = {
    shape.name: shape for shape in (stripe.SHAPE, hubspot.SHAPE, salesforce.SHAPE, app_postgres.SHAPE)
}
