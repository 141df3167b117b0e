"""HubSpot-shaped CRM streams, as Airbyte source-hubspot emits them: `id`, `createdAt`, `updatedAt`
(the cursor), `archived`, the `properties` object, and each property flattened again as
`properties_<name>`; contacts and deals carry their associations (`companies`, `contacts`).

Contact i works at a company created before it; deal i is with a contact created before it and
with that contact's company, so deal -> contact -> company joins agree.
"""

from __future__ import annotations

from airbyte_platform.ingestion.sample_sources.dice import Dice
from airbyte_platform.ingestion.sample_sources.fields import Field, json_bools, nullable, quoted
from airbyte_platform.ingestion.sample_sources.lazy import numpy as np
from airbyte_platform.ingestion.sample_sources.shapes.common import (
    company_names,
    domains,
    people,
    places,
    timeline,
)
from airbyte_platform.ingestion.sample_sources.streams import Columns, IsoCursor, SampleStream, Shape
from airbyte_platform.ingestion.sample_sources.vocabulary import INDUSTRIES, JOB_TITLES

BASE_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z
STEP_MS = 60_000
DAY_MS = 86_400_000
CURSOR = IsoCursor(unit="ms", suffix="Z")
CONTACT_ID_BASE, COMPANY_ID_BASE, DEAL_ID_BASE, OWNER_ID_BASE = 1_001, 5_000_000_001, 9_000_000_001, 40_001
DEAL_STAGES, DEAL_STAGE_WEIGHTS = (
    (
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ),
    (15, 15, 12, 10, 8, 25, 15),
)
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
)


def _iso(ticks: np.ndarray) -> list[str]:
    return CURSOR.to_json(ticks)


def _id_text(base: int, index: np.ndarray) -> list[str]:
    return (base + index).astype(str).tolist()


def _crm_fields(properties: tuple[Field, ...], associations: tuple[str, ...] = ()) -> tuple[Field, ...]:
    """id, properties{...}, properties_<name>..., createdAt, updatedAt, archived, associations."""
    flattened = tuple(
        Field(f"properties_{p.name}", p.type, nullable=True, format=p.format, column=p.column_name)
        for p in properties
    )
    return (
        Field("id", "string"),
        Field("properties", "object", nullable=True, fields=properties),
        *flattened,
        Field("createdAt", "string", format="date-time"),
        Field("updatedAt", "string", format="date-time"),
        Field("archived", "boolean", nullable=True, const=False),
        *(Field(name, "array", nullable=True, items="string") for name in associations),
    )


def _property(name: str, type_: str = "string", format_: str | None = None) -> Field:
    """A HubSpot property: nullable, fed by the column `p_<name>` (JSON text)."""
    return Field(name, type_, nullable=True, format=format_, column=f"p_{name}")  # type: ignore[arg-type]


def _created(updated: np.ndarray, dice: Dice, kind: str) -> np.ndarray:
    return updated - (dice.uniform(f"{kind}/age") * 90 * DAY_MS).astype(np.int64)


def _owners(dice: Dice, kind: str) -> list[str]:
    return quoted(_id_text(OWNER_ID_BASE, dice.integers(f"{kind}/owner", 0, 25)))


# ------------------------------------------------------------------------------------------ companies

COMPANY_PROPERTIES = (
    _property("name"),
    _property("domain"),
    _property("industry"),
    _property("city"),
    _property("country"),
    _property("numberofemployees", "number"),
    _property("annualrevenue", "number"),
    _property("lifecyclestage"),
    _property("hubspot_owner_id"),
    _property("createdate", format_="date-time"),
    _property("hs_lastmodifieddate", format_="date-time"),
    _property("hs_object_id"),
)


def _company_updated(dice: Dice) -> np.ndarray:
    return timeline(dice, base=BASE_MS, step=STEP_MS, window=(0.0, 0.3), purpose="company/updated")


def _company_columns(dice: Dice, updated: np.ndarray) -> Columns:
    names = company_names(dice, "company")
    place = places(dice, "company")
    created = _created(updated, dice, "company")
    employees = dice.integers("company/employees", 2, 20_000)
    revenue = np.round(employees * (20_000 + dice.uniform("company/revenue") * 180_000), -3)
    ids = _id_text(COMPANY_ID_BASE, dice.index)
    return {
        "id": ids,
        "p_name": quoted(names),
        "p_domain": quoted(domains(names)),
        "p_industry": quoted(dice.pick("company/industry", INDUSTRIES)),
        "p_city": quoted(place.city),
        "p_country": quoted(place.country),
        "p_numberofemployees": employees.tolist(),
        "p_annualrevenue": nullable(revenue, dice.chance("company/has_revenue", 0.7), quoted=False),
        "p_lifecyclestage": quoted(dice.pick("company/lifecycle", LIFECYCLE_STAGES)),
        "p_hubspot_owner_id": _owners(dice, "company"),
        "p_createdate": quoted(_iso(created)),
        "p_hs_lastmodifieddate": quoted(_iso(updated)),
        "p_hs_object_id": quoted(ids),
        "createdAt": _iso(created),
    }


COMPANIES = SampleStream(
    name="companies",
    primary_key="id",
    cursor_field="updatedAt",
    cursor=CURSOR,
    fields=_crm_fields(COMPANY_PROPERTIES),  # contact -> company associations live on contacts
    timeline=_company_updated,
    columns=_company_columns,
)


# ------------------------------------------------------------------------------------------- contacts

CONTACT_PROPERTIES = (
    _property("email"),
    _property("firstname"),
    _property("lastname"),
    _property("phone"),
    _property("jobtitle"),
    _property("company"),
    _property("associatedcompanyid"),
    _property("lifecyclestage"),
    _property("hubspot_owner_id"),
    _property("createdate", format_="date-time"),
    _property("lastmodifieddate", format_="date-time"),
    _property("hs_object_id"),
)


def company_of_contact(dice: Dice) -> np.ndarray:
    return dice.earlier("contact/company")


def _contact_columns(dice: Dice, updated: np.ndarray) -> Columns:
    person = people(dice, "contact")
    company = dice.at(company_of_contact(dice))
    company_ids = _id_text(COMPANY_ID_BASE, company.index)
    created = _created(updated, dice, "contact")
    ids = _id_text(CONTACT_ID_BASE, dice.index)
    return {
        "id": ids,
        "p_email": quoted(person.email),
        "p_firstname": quoted(person.first),
        "p_lastname": quoted(person.last),
        "p_phone": nullable(person.phone, person.has_phone),
        "p_jobtitle": quoted(dice.pick("contact/title", JOB_TITLES)),
        "p_company": quoted(company_names(company, "company")),
        "p_associatedcompanyid": quoted(company_ids),
        "p_lifecyclestage": quoted(dice.pick("contact/lifecycle", LIFECYCLE_STAGES)),
        "p_hubspot_owner_id": _owners(dice, "contact"),
        "p_createdate": quoted(_iso(created)),
        "p_lastmodifieddate": quoted(_iso(updated)),
        "p_hs_object_id": quoted(ids),
        "createdAt": _iso(created),
        "companies": [f'["{c}"]' for c in company_ids],
    }


CONTACTS = SampleStream(
    name="contacts",
    primary_key="id",
    cursor_field="updatedAt",
    cursor=CURSOR,
    fields=_crm_fields(CONTACT_PROPERTIES, ("companies",)),
    timeline=lambda dice: timeline(
        dice, base=BASE_MS, step=STEP_MS, window=(0.3, 0.6), purpose="contact/updated"
    ),
    columns=_contact_columns,
)


# ---------------------------------------------------------------------------------------------- deals

DEAL_PROPERTIES = (
    _property("dealname"),
    _property("amount", "number"),
    _property("dealstage"),
    _property("pipeline"),
    _property("closedate", format_="date-time"),
    _property("hs_is_closed_won", "boolean"),
    _property("hubspot_owner_id"),
    _property("createdate", format_="date-time"),
    _property("hs_lastmodifieddate", format_="date-time"),
    _property("hs_object_id"),
)


def _deal_columns(dice: Dice, updated: np.ndarray) -> Columns:
    contact = dice.at(dice.earlier("deal/contact"))
    company = contact.at(company_of_contact(contact))
    stage = dice.pick("deal/stage", DEAL_STAGES, DEAL_STAGE_WEIGHTS)
    created = _created(updated, dice, "deal")
    close = created + (dice.uniform("deal/cycle") * 120 * DAY_MS).astype(np.int64)
    amount = np.round(np.exp(dice.uniform("deal/amount") * np.log(500)) * 200, 2)
    ids = _id_text(DEAL_ID_BASE, dice.index)
    names = company_names(company, "company")
    return {
        "id": ids,
        "p_dealname": quoted(names + " - " + dice.pick("deal/kind", ("New Business", "Renewal", "Upsell"))),
        "p_amount": nullable(amount, dice.chance("deal/has_amount", 0.9), quoted=False),
        "p_dealstage": quoted(stage),
        "p_pipeline": quoted(np.full(len(ids), "default", dtype=object)),
        "p_closedate": quoted(_iso(close)),
        "p_hs_is_closed_won": json_bools(stage == "closedwon"),
        "p_hubspot_owner_id": _owners(dice, "deal"),
        "p_createdate": quoted(_iso(created)),
        "p_hs_lastmodifieddate": quoted(_iso(updated)),
        "p_hs_object_id": quoted(ids),
        "createdAt": _iso(created),
        "companies": [f'["{c}"]' for c in _id_text(COMPANY_ID_BASE, company.index)],
        "contacts": [f'["{c}"]' for c in _id_text(CONTACT_ID_BASE, contact.index)],
    }


DEALS = SampleStream(
    name="deals",
    primary_key="id",
    cursor_field="updatedAt",
    cursor=CURSOR,
    fields=_crm_fields(DEAL_PROPERTIES, ("companies", "contacts")),
    timeline=lambda dice: timeline(
        dice, base=BASE_MS, step=STEP_MS, window=(0.6, 1.0), purpose="deal/updated"
    ),
    columns=_deal_columns,
)

SHAPE = Shape(name="hubspot", title="HubSpot", streams=(CONTACTS, COMPANIES, DEALS))
