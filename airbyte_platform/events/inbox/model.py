"""What the inbox stores and the interface its backend (PostgreSQL, `postgres.py`) implements."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import orjson

Source = Literal["stripe", "airbyte", "trigger"]


class InboxError(RuntimeError):
    """The inbox cannot be opened, read or written; the message names the DSN variable to check."""


class IntakeKey(NamedTuple):
    """One webhook intake counter: what happened to requests from `source`, and why.

    `outcome`: accepted, duplicate (counted by the inbox in the transaction that settles them),
    rejected, ignored, unavailable (counted by the receiver). `reason`: a fixed word naming the
    refusal (bad_signature, malformed_json, ...), "" for accepted and duplicate. Every value comes
    from a small fixed set, never from the request: Prometheus labels must stay bounded.
    """

    source: str  # stripe, airbyte, trigger, or unknown (a path matching no route)
    outcome: str
    reason: str = ""


class WriteOutcome(enum.Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # an event with this id is already stored: acknowledged, not stored again


@dataclass(frozen=True)
class NewEvent:
    """An accepted webhook event, about to be written.

    `event_id` is globally unique and is the run key of the run it launches: the Stripe event id
    (`evt_...`), `airbyte-job-<job id>` for Airbyte notifications, `trigger-<key>` for triggers.
    `route` names the sensor that consumes it (see `events.routes`).
    """

    event_id: str
    source: Source
    route: str
    kind: str  # Stripe event type, "sync.succeeded"/"sync.failed", or the triggered job's name
    payload: str  # JSON text: the verified raw body (Stripe, Airbyte) or the normalised trigger
    received_at: float  # unix seconds

    def data(self) -> Any:
        return orjson.loads(self.payload)


@dataclass(frozen=True)
class StoredEvent(NewEvent):
    seq: int
    # Opaque reading position just after this event: pass it back to `read_after` to continue.
    position: str


def intake_deltas(
    events: Sequence[NewEvent], outcomes: Sequence[WriteOutcome], counts: Mapping[IntakeKey, int] | None
) -> list[tuple[IntakeKey, int]]:
    """What one write adds to the intake counters: each event's outcome, plus `counts`.

    Sorted, so concurrent writers lock counter rows in the same order (no deadlock).
    """
    deltas: Counter[IntakeKey] = Counter(counts or {})
    for event, outcome in zip(events, outcomes, strict=True):
        deltas[
            IntakeKey(event.source, outcome.value if outcome is WriteOutcome.DUPLICATE else "accepted")
        ] += 1
    return sorted((key, n) for key, n in deltas.items() if n > 0)


class Inbox(ABC):
    """A durable, deduplicating event store read in commit order by sensors."""

    backend: str

    @abstractmethod
    def insert_batch(
        self, events: Sequence[NewEvent], counts: Mapping[IntakeKey, int] | None = None
    ) -> list[WriteOutcome]:
        """Write `events` in ONE durable transaction (one fsync); return each event's outcome.

        The same transaction adds one to the intake counter (source, accepted|duplicate) of each
        event, and adds `counts` (the receiver's refusals since its last write): the counters are
        exactly as durable as the events, and counting costs no transaction of its own while
        events arrive. `events` may be empty to write only `counts`.
        """

    @abstractmethod
    def intake_counts(self) -> dict[IntakeKey, int]:
        """Every intake counter, summed over the receivers that wrote it (monotonic, never pruned)."""

    @abstractmethod
    def read_after(self, route: str, position: str | None, limit: int = 500) -> list[StoredEvent]:
        """Events of `route` after `position` (None: from the start), oldest first.

        Never skips an event: an event committed later always sorts after every event returned now.
        """

    @abstractmethod
    def fetch(self, event_ids: Sequence[str]) -> list[StoredEvent]:
        """The stored events with these ids (missing ids are left out)."""

    @abstractmethod
    def count(self, route: str | None = None) -> int: ...

    @abstractmethod
    def event_ids(self) -> list[str]:
        """Every stored event id (tests and the reliability check; not for large inboxes)."""

    @abstractmethod
    def acknowledge(self, route: str, position: str) -> None:
        """Record that `route`'s consumer has read (and committed its cursor) up to `position`.

        A route has one consumer, the sensor named after it (see `events.routes`).
        """

    @abstractmethod
    def prune(self, received_before: float) -> int:
        """Delete events received before this time AND already read by their route's consumer.

        An event no consumer has acknowledged stays, whatever its age: a sensor that was off for
        a month still finds every event it has not read. Returns how many were deleted.
        """

    @abstractmethod
    def ping(self) -> None:
        """Raise InboxError unless an event written now would be durably stored where it is read.

        A committed probe write, not a read: a full disk, a read-only store or a lock held
        elsewhere pass a read and fail every POST.
        """

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
