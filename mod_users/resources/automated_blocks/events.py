"""The eight events FOLIO's circulation and fees/fines modules publish, and what makes one event *one*.

Each event type has an HTTP handler (as mod-pubsub delivers it), a Kafka topic (as FOLIO's Kafka
integration publishes it), and a JSON Schema (mod-patron-blocks' ``ramls/events/``). The names are
mod-patron-blocks' and mod-pubsub's: they are what publishers and mod-pubsub's permissions use.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HANDLERS_PATH = "/automated-patron-blocks/handlers"
# Event log ids of events identified by their content are UUIDs derived from it (version 5).
_EVENT_NAMESPACE = uuid.UUID("8c6c3b0e-4f1b-5d8e-9a57-3f5b2b8d7e61")


@dataclass(frozen=True)
class EventType:
    """One kind of event: its FOLIO name, the handler path segment, the module publishing it."""

    name: str  # ITEM_CHECKED_OUT: mod-pubsub's event type and the Kafka topic's last part
    handler: str  # item-checked-out
    module: str  # circulation | feesfines: the Kafka topic's third part
    # Happens at most once per loan, so a second event with the same content can only be a redelivery.
    once_per_loan: bool = False

    @property
    def path(self) -> str:
        return f"{HANDLERS_PATH}/{self.handler}"

    @property
    def schema(self) -> str:
        """The registry key of the payload's JSON Schema."""
        return f"patron-blocks/events/{self.handler}.json"

    def topic(self, env: str, tenant: str) -> str:
        """The Kafka topic FOLIO publishes this event on for ``tenant``."""
        return f"{env}.{tenant}.{self.module}.{self.name}"


ITEM_CHECKED_OUT = EventType("ITEM_CHECKED_OUT", "item-checked-out", "circulation", once_per_loan=True)
ITEM_CHECKED_IN = EventType("ITEM_CHECKED_IN", "item-checked-in", "circulation", once_per_loan=True)
ITEM_DECLARED_LOST = EventType("ITEM_DECLARED_LOST", "item-declared-lost", "circulation")
ITEM_AGED_TO_LOST = EventType("ITEM_AGED_TO_LOST", "item-aged-to-lost", "circulation")
ITEM_CLAIMED_RETURNED = EventType("ITEM_CLAIMED_RETURNED", "item-claimed-returned", "circulation")
LOAN_DUE_DATE_CHANGED = EventType("LOAN_DUE_DATE_CHANGED", "loan-due-date-changed", "circulation")
LOAN_CLOSED = EventType("LOAN_CLOSED", "loan-closed", "circulation", once_per_loan=True)
FEE_FINE_BALANCE_CHANGED = EventType("FEE_FINE_BALANCE_CHANGED", "fee-fine-balance-changed", "feesfines")

EVENT_TYPES: tuple[EventType, ...] = (
    ITEM_CHECKED_OUT,
    ITEM_CHECKED_IN,
    ITEM_DECLARED_LOST,
    ITEM_AGED_TO_LOST,
    ITEM_CLAIMED_RETURNED,
    LOAN_DUE_DATE_CHANGED,
    LOAN_CLOSED,
    FEE_FINE_BALANCE_CHANGED,
)
BY_NAME = {t.name: t for t in EVENT_TYPES}


def topic_pattern(env: str) -> str:
    """A regular expression matching every tenant's topic of every event type (mod-patron-blocks
    subscribes with ``\\w+`` for the tenant)."""
    names = "|".join(
        f"{re.escape(module)}\\.(?:{'|'.join(t.name for t in EVENT_TYPES if t.module == module)})"
        for module in sorted({t.module for t in EVENT_TYPES})
    )
    return f"^{re.escape(env)}\\.\\w+\\.(?:{names})$"


def parse_topic(env: str, topic: str) -> tuple[str, EventType] | None:
    """The tenant and event type a topic name stands for, or None for a topic that is not one of ours."""
    prefix = env + "."
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split(".")
    if len(parts) != 3:
        return None
    tenant, module, name = parts
    event_type = BY_NAME.get(name)
    if event_type is None or event_type.module != module or not re.fullmatch(r"\w+", tenant):
        return None
    return tenant, event_type


def is_uuid(value: str) -> bool:
    """Whether ``value`` reads as a UUID (in any of the forms Python accepts)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_instant(value: Any) -> datetime | None:
    """An RFC 3339 date-time as an aware UTC datetime; None for anything else, including a date-time
    whose offset moves it out of the years Python (and PostgreSQL) can hold."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# The payload fields that are date-times, by event type (only these need a check beyond the schema).
DATE_FIELDS = {ITEM_CHECKED_OUT: ("dueDate",), LOAN_DUE_DATE_CHANGED: ("dueDate",), ITEM_CHECKED_IN: ("returnDate",)}
UNREPRESENTABLE_DATE = "is a date-time that cannot be represented in UTC"


def date_problems(event_type: EventType, payload: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, value) of every date-time the schema lets through that cannot be used (an offset that
    moves it past year 9999, for example)."""
    return [
        (name, payload[name])
        for name in DATE_FIELDS.get(event_type, ())
        if name in payload and parse_instant(payload[name]) is None
    ]


def event_log_id(event_type: EventType, payload: dict[str, Any], delivery: str | None = None) -> uuid.UUID | None:
    """The id under which the event is kept in the event log; two deliveries of one event get the same
    id, so the second finds the first and changes nothing. None: nothing identifies the event.

    - The event's own ``id`` (mod-patron-blocks' schemas: "a globally unique identifier for the event").
    - Else its content, for the events that happen once per loan (check out, check in, loan closed) and
      for events that carry ``metadata`` (a creation time tells repetitions apart): whichever way it
      arrives (HTTP, Kafka, again), it is the same event.
    - Else the Kafka record it came in (topic, partition, offset): a redelivery is the same record.
    - Else nothing. mod-circulation sends the other events (lost, claimed returned, due date, balance)
      with neither id nor time, and the same content twice can be a real repetition (declared lost,
      claimed returned, declared lost again), so such an event is applied again; each one sets a state,
      so a repeated delivery in a row changes nothing.
    """
    if isinstance(payload.get("id"), str):
        return uuid.uuid5(_EVENT_NAMESPACE, f"id:{payload['id'].lower()}")
    if event_type.once_per_loan or isinstance(payload.get("metadata"), dict):
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(f"{event_type.name}:{canonical}".encode()).hexdigest()
        return uuid.uuid5(_EVENT_NAMESPACE, f"content:{digest}")
    if delivery is not None:
        return uuid.uuid5(_EVENT_NAMESPACE, f"delivery:{delivery}")
    return None
