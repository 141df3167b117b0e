"""Application-PostgreSQL-shaped tables (namespace `public`), as Airbyte source-postgres emits them:
integer ids, `numeric` as numbers, `timestamptz` as `2023-01-01T00:00:00.000000Z` with
`airbyte_type: timestamp_with_timezone`; `updated_at` is the cursor.

Order i belongs to a user created before it; each order has ITEMS_PER_ORDER order_items (so the
stream holds that many times `records`) and its `total_amount` is the sum of its items.
"""

from __future__ import annotations

from airbyte_platform.ingestion.sample_sources.dice import Dice
from airbyte_platform.ingestion.sample_sources.fields import Field, json_bools, nullable, quoted
from airbyte_platform.ingestion.sample_sources.lazy import numpy as np
from airbyte_platform.ingestion.sample_sources.shapes.common import people, places, timeline
from airbyte_platform.ingestion.sample_sources.streams import Columns, IsoCursor, SampleStream, Shape

BASE_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
STEP_US = 60_000_000
DAY_US = 86_400_000_000
ITEMS_PER_ORDER = 3
PRODUCTS = 250  # SKU-0001 ... SKU-0250, each with a fixed price
CURSOR = IsoCursor(unit="us", suffix="Z")
NAMESPACE = "public"
ORDER_STATUSES, ORDER_WEIGHTS = (
    ("pending", "paid", "shipped", "delivered", "cancelled", "refunded"),
    (8, 15, 17, 50, 6, 4),
)


def _timestamp(name: str, nullable_: bool = True) -> Field:
    return Field(
        name, "string", nullable=nullable_, format="date-time", airbyte_type="timestamp_with_timezone"
    )


def _stamps(ticks: np.ndarray) -> list[str]:
    return CURSOR.to_json(ticks)


def _created(dice: Dice, updated: np.ndarray, kind: str, max_days: int) -> np.ndarray:
    return updated - (dice.uniform(f"{kind}/age") * max_days * DAY_US).astype(np.int64)


# ---------------------------------------------------------------------------------------------- users


def _user_columns(dice: Dice, updated: np.ndarray) -> Columns:
    person = people(dice, "user")
    return {
        "id": (dice.index + 1).tolist(),
        "email": person.email.tolist(),
        "full_name": quoted(person.name),
        "country": quoted(places(dice, "user").country),
        "plan": dice.pick("user/plan", ("free", "starter", "pro", "enterprise"), (55, 25, 15, 5)).tolist(),
        "is_active": json_bools(dice.chance("user/active", 0.92)),
        "created_at": _stamps(_created(dice, updated, "user", 30)),
    }


USERS = SampleStream(
    name="users",
    namespace=NAMESPACE,
    primary_key="id",
    cursor_field="updated_at",
    cursor=CURSOR,
    fields=(
        Field("id", "integer"),
        Field("email", "string"),
        Field("full_name", "string", nullable=True),
        Field("country", "string", nullable=True),
        Field("plan", "string"),
        Field("is_active", "boolean"),
        _timestamp("created_at", nullable_=False),
        _timestamp("updated_at", nullable_=False),
    ),
    timeline=lambda dice: timeline(
        dice, base=BASE_US, step=STEP_US, window=(0.0, 0.3), purpose="user/updated"
    ),
    columns=_user_columns,
)


# ----------------------------------------------------------------------------------------- order_items


def _order_timeline(dice: Dice) -> np.ndarray:
    """Orders leave room after themselves for their items' timestamps (+1 us, +2 us, ...)."""
    return timeline(dice, base=BASE_US, step=STEP_US, window=(0.3, 0.9), purpose="order/updated")


def _item_timeline(dice: Dice) -> np.ndarray:
    order = dice.at(dice.index // ITEMS_PER_ORDER)
    return _order_timeline(order) + dice.index % ITEMS_PER_ORDER + 1


def unit_prices(sku: np.ndarray, seed: int) -> np.ndarray:
    """The fixed price of each product (in dollars, two decimals)."""
    return np.round(2 + Dice(seed, sku).uniform("product/price") * 298, 2)


def _item_terms(dice: Dice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sku number, quantity, unit price) of order items `dice.index`."""
    sku = dice.integers("item/sku", 1, PRODUCTS + 1)
    return sku, dice.integers("item/quantity", 1, 6), unit_prices(sku, dice.seed)


def _order_item_columns(dice: Dice, updated: np.ndarray) -> Columns:
    sku, quantity, price = _item_terms(dice)
    return {
        "id": (dice.index + 1).tolist(),
        "order_id": (dice.index // ITEMS_PER_ORDER + 1).tolist(),
        "product_sku": [f"SKU-{n:04d}" for n in sku.tolist()],
        "quantity": quantity.tolist(),
        "unit_price": price.tolist(),
        "created_at": _stamps(updated),
    }


ORDER_ITEMS = SampleStream(
    name="order_items",
    namespace=NAMESPACE,
    primary_key="id",
    cursor_field="updated_at",
    cursor=CURSOR,
    fields=(
        Field("id", "integer"),
        Field("order_id", "integer"),
        Field("product_sku", "string"),
        Field("quantity", "integer"),
        Field("unit_price", "number"),
        _timestamp("created_at", nullable_=False),
        _timestamp("updated_at", nullable_=False),
    ),
    timeline=_item_timeline,
    columns=_order_item_columns,
    count=lambda records: records * ITEMS_PER_ORDER,
    size_note=f"{ITEMS_PER_ORDER} per order",
)


# --------------------------------------------------------------------------------------------- orders


def _order_columns(dice: Dice, updated: np.ndarray) -> Columns:
    count = len(updated)
    items = dice.at((dice.index[:, None] * ITEMS_PER_ORDER + np.arange(ITEMS_PER_ORDER)).ravel())
    _, quantity, price = _item_terms(items)
    total = np.round((quantity * price).reshape(count, ITEMS_PER_ORDER).sum(axis=1), 2)
    status = dice.pick("order/status", ORDER_STATUSES, ORDER_WEIGHTS)
    created = _created(dice, updated, "order", 10)
    place = places(dice.at(dice.earlier("order/user")), "user")
    return {
        "id": (dice.index + 1).tolist(),
        "user_id": (dice.earlier("order/user") + 1).tolist(),
        "status": status.tolist(),
        "total_amount": total.tolist(),
        "shipping_country": quoted(place.country),
        "placed_at": _stamps(created),
        "shipped_at": nullable(
            _stamps(created + DAY_US), np.isin(status, ("shipped", "delivered", "refunded"))
        ),
        "created_at": _stamps(created),
    }


ORDERS = SampleStream(
    name="orders",
    namespace=NAMESPACE,
    primary_key="id",
    cursor_field="updated_at",
    cursor=CURSOR,
    fields=(
        Field("id", "integer"),
        Field("user_id", "integer"),
        Field("status", "string"),
        Field("total_amount", "number"),
        Field("currency", "string", const="USD"),
        Field("shipping_country", "string", nullable=True),
        _timestamp("placed_at", nullable_=False),
        _timestamp("shipped_at"),
        _timestamp("created_at", nullable_=False),
        _timestamp("updated_at", nullable_=False),
    ),
    timeline=_order_timeline,
    columns=_order_columns,
)

SHAPE = Shape(
    name="app_postgres",
    title="Application PostgreSQL",
    streams=(USERS, ORDERS, ORDER_ITEMS),
)
