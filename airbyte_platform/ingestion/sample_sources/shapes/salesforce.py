"""Salesforce-shaped streams, as Airbyte source-salesforce emits them: 18-character `Id`s (valid
case-safe checksums), API field names, `SystemModstamp` as the cursor, date-times as the REST API
writes them (`2023-01-01T00:00:00.000+0000`).

Contact i and opportunity i belong to an account created before them; a converted lead i points at
a contact created before it and at that contact's account.
"""

from __future__ import annotations

from airbyte_platform.ingestion.sample_sources.dice import Dice, salesforce_ids
from airbyte_platform.ingestion.sample_sources.fields import Field, json_bools, nullable, quoted
from airbyte_platform.ingestion.sample_sources.lazy import numpy as np
from airbyte_platform.ingestion.sample_sources.shapes.common import company_names, people, places, timeline
from airbyte_platform.ingestion.sample_sources.streams import Columns, IsoCursor, SampleStream, Shape
from airbyte_platform.ingestion.sample_sources.vocabulary import INDUSTRIES, JOB_TITLES, PRODUCT_NAMES

BASE_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z
STEP_MS = 60_000
DAY_MS = 86_400_000
CURSOR = IsoCursor(unit="ms", suffix="+0000")
# Key prefixes of the standard objects.
ACCOUNT, CONTACT, OPPORTUNITY, LEAD, USER = "001", "003", "006", "00Q", "005"
OWNERS = 20
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
# StageName -> (Probability, IsClosed, IsWon, ForecastCategory), as in a default Salesforce org.
STAGES = {
    "Prospecting": (10, False, False, "Pipeline"),
    "Qualification": (10, False, False, "Pipeline"),
    "Needs Analysis": (20, False, False, "Pipeline"),
    "Value Proposition": (50, False, False, "Pipeline"),
    "Id. Decision Makers": (60, False, False, "Pipeline"),
    "Perception Analysis": (70, False, False, "Pipeline"),
    "Proposal/Price Quote": (75, False, False, "BestCase"),
    "Negotiation/Review": (90, False, False, "Commit"),
    "Closed Won": (100, True, True, "Closed"),
    "Closed Lost": (0, True, False, "Omitted"),
}
STAGE_WEIGHTS = (12, 10, 9, 8, 6, 5, 8, 7, 20, 15)
LEAD_STATUSES, LEAD_WEIGHTS = (
    ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"),
    (30, 25, 30, 15),
)


def _stamps(ticks: np.ndarray) -> list[str]:
    return CURSOR.to_json(ticks)


def _audit_fields() -> tuple[Field, ...]:
    stamp = {"format": "date-time"}
    return (
        Field("OwnerId", "string", nullable=True),
        Field("CreatedDate", "string", nullable=True, **stamp),  # type: ignore[arg-type]
        Field("LastModifiedDate", "string", nullable=True, **stamp),  # type: ignore[arg-type]
        Field("SystemModstamp", "string", **stamp),  # type: ignore[arg-type]
        Field("IsDeleted", "boolean", const=False),
    )


def _audit_columns(dice: Dice, modstamp: np.ndarray, kind: str) -> Columns:
    """OwnerId, CreatedDate and LastModifiedDate (SystemModstamp is the cursor, added by the stream)."""
    created = modstamp - (dice.uniform(f"{kind}/age") * 60 * DAY_MS).astype(np.int64)
    return {
        "OwnerId": quoted(salesforce_ids(USER, dice.integers(f"{kind}/owner", 0, OWNERS))),
        "CreatedDate": quoted(_stamps(created)),
        "LastModifiedDate": quoted(_stamps(modstamp)),
    }


def _text(name: str) -> Field:
    return Field(name, "string", nullable=True)


# -------------------------------------------------------------------------------------------- Account


def _account_columns(dice: Dice, modstamp: np.ndarray) -> Columns:
    place = places(dice, "account")
    employees = dice.integers("account/employees", 5, 50_000)
    revenue = np.round(employees * (30_000 + dice.uniform("account/revenue") * 200_000), -3)
    return {
        "Id": salesforce_ids(ACCOUNT, dice.index),
        "Name": quoted(company_names(dice, "account")),
        "Type": quoted(
            dice.pick(
                "account/type",
                ("Customer - Direct", "Customer - Channel", "Prospect", "Partner"),
                (45, 15, 30, 10),
            )
        ),
        "Industry": quoted(dice.pick("account/industry", INDUSTRIES)),
        "BillingCity": quoted(place.city),
        "BillingCountry": quoted(place.country),
        "AnnualRevenue": nullable(revenue, dice.chance("account/has_revenue", 0.8), quoted=False),
        "NumberOfEmployees": nullable(employees, dice.chance("account/has_employees", 0.9), quoted=False),
        **_audit_columns(dice, modstamp, "account"),
    }


ACCOUNTS = SampleStream(
    name="Account",
    primary_key="Id",
    cursor_field="SystemModstamp",
    cursor=CURSOR,
    fields=(
        Field("Id", "string"),
        _text("Name"),
        _text("Type"),
        _text("Industry"),
        _text("BillingCity"),
        _text("BillingCountry"),
        Field("AnnualRevenue", "number", nullable=True),
        Field("NumberOfEmployees", "integer", nullable=True),
        *_audit_fields(),
    ),
    timeline=lambda dice: timeline(
        dice, base=BASE_MS, step=STEP_MS, window=(0.0, 0.25), purpose="account/ts"
    ),
    columns=_account_columns,
)


# -------------------------------------------------------------------------------------------- Contact


def account_of_contact(dice: Dice) -> np.ndarray:
    return dice.earlier("contact/account")


def _contact_columns(dice: Dice, modstamp: np.ndarray) -> Columns:
    person = people(dice, "sf_contact")
    return {
        "Id": salesforce_ids(CONTACT, dice.index),
        "AccountId": quoted(salesforce_ids(ACCOUNT, account_of_contact(dice))),
        "FirstName": quoted(person.first),
        "LastName": person.last.tolist(),
        "Name": quoted(person.name),
        "Email": quoted(person.email),
        "Title": quoted(dice.pick("contact/title", JOB_TITLES)),
        "Phone": nullable(person.phone, person.has_phone),
        "LeadSource": quoted(dice.pick("contact/source", LEAD_SOURCES)),
        **_audit_columns(dice, modstamp, "contact"),
    }


CONTACTS = SampleStream(
    name="Contact",
    primary_key="Id",
    cursor_field="SystemModstamp",
    cursor=CURSOR,
    fields=(
        Field("Id", "string"),
        _text("AccountId"),
        _text("FirstName"),
        Field("LastName", "string"),
        _text("Name"),
        _text("Email"),
        _text("Title"),
        _text("Phone"),
        _text("LeadSource"),
        *_audit_fields(),
    ),
    timeline=lambda dice: timeline(
        dice, base=BASE_MS, step=STEP_MS, window=(0.25, 0.5), purpose="contact/ts"
    ),
    columns=_contact_columns,
)


# ---------------------------------------------------------------------------------------- Opportunity


def _opportunity_columns(dice: Dice, modstamp: np.ndarray) -> Columns:
    account = dice.at(dice.earlier("opportunity/account"))
    stage = dice.pick("opportunity/stage", tuple(STAGES), STAGE_WEIGHTS)
    probability, closed, won, forecast = zip(*(STAGES[s] for s in stage.tolist()), strict=True)
    amount = np.round(np.exp(dice.uniform("opportunity/amount") * np.log(400)) * 500, 2)
    close = modstamp + ((dice.uniform("opportunity/close") - 0.3) * 90 * DAY_MS).astype(np.int64)
    product = dice.pick("opportunity/product", PRODUCT_NAMES)
    return {
        "Id": salesforce_ids(OPPORTUNITY, dice.index),
        "AccountId": quoted(salesforce_ids(ACCOUNT, account.index)),
        "Name": (company_names(account, "account") + " - " + product).tolist(),
        "Amount": nullable(amount, dice.chance("opportunity/has_amount", 0.95), quoted=False),
        "StageName": stage.tolist(),
        "CloseDate": np.datetime_as_string(close.astype("datetime64[ms]"), unit="D").tolist(),
        "Probability": nullable(
            np.asarray(probability, dtype=np.float64), np.ones(len(stage), bool), quoted=False
        ),
        "IsClosed": json_bools(np.asarray(closed)),
        "IsWon": json_bools(np.asarray(won)),
        "ForecastCategory": quoted(forecast),
        "Type": quoted(
            dice.pick(
                "opportunity/type",
                ("New Customer", "Existing Customer - Upgrade", "Existing Customer - Replacement"),
            )
        ),
        "LeadSource": quoted(dice.pick("opportunity/source", LEAD_SOURCES)),
        **_audit_columns(dice, modstamp, "opportunity"),
    }


OPPORTUNITIES = SampleStream(
    name="Opportunity",
    primary_key="Id",
    cursor_field="SystemModstamp",
    cursor=CURSOR,
    fields=(
        Field("Id", "string"),
        _text("AccountId"),
        Field("Name", "string"),
        Field("Amount", "number", nullable=True),
        Field("StageName", "string"),
        Field("CloseDate", "string", format="date"),
        Field("Probability", "number", nullable=True),
        Field("IsClosed", "boolean"),
        Field("IsWon", "boolean"),
        _text("ForecastCategory"),
        _text("Type"),
        _text("LeadSource"),
        *_audit_fields(),
    ),
    timeline=lambda dice: timeline(
        dice, base=BASE_MS, step=STEP_MS, window=(0.5, 0.75), purpose="opportunity/ts"
    ),
    columns=_opportunity_columns,
)


# ----------------------------------------------------------------------------------------------- Lead


def _lead_columns(dice: Dice, modstamp: np.ndarray) -> Columns:
    person = people(dice, "lead")
    status = dice.pick("lead/status", LEAD_STATUSES, LEAD_WEIGHTS)
    converted = status == "Closed - Converted"
    contact = dice.at(dice.earlier("lead/contact"))
    return {
        "Id": salesforce_ids(LEAD, dice.index),
        "FirstName": quoted(person.first),
        "LastName": person.last.tolist(),
        "Company": company_names(dice, "lead_company").tolist(),
        "Email": quoted(person.email),
        "Status": status.tolist(),
        "LeadSource": quoted(dice.pick("lead/source", LEAD_SOURCES)),
        "Industry": quoted(dice.pick("lead/industry", INDUSTRIES)),
        "IsConverted": json_bools(converted),
        "ConvertedAccountId": nullable(salesforce_ids(ACCOUNT, account_of_contact(contact)), converted),
        "ConvertedContactId": nullable(salesforce_ids(CONTACT, contact.index), converted),
        **_audit_columns(dice, modstamp, "lead"),
    }


LEADS = SampleStream(
    name="Lead",
    primary_key="Id",
    cursor_field="SystemModstamp",
    cursor=CURSOR,
    fields=(
        Field("Id", "string"),
        _text("FirstName"),
        Field("LastName", "string"),
        Field("Company", "string"),
        _text("Email"),
        Field("Status", "string"),
        _text("LeadSource"),
        _text("Industry"),
        Field("IsConverted", "boolean"),
        _text("ConvertedAccountId"),
        _text("ConvertedContactId"),
        Field("ConvertedOpportunityId", "string", nullable=True, const=None),
        *_audit_fields(),
    ),
    timeline=lambda dice: timeline(dice, base=BASE_MS, step=STEP_MS, window=(0.75, 1.0), purpose="lead/ts"),
    columns=_lead_columns,
)

SHAPE = Shape(name="salesforce", title="Salesforce", streams=(ACCOUNTS, CONTACTS, OPPORTUNITIES, LEADS))
