"""Automated patron blocks' events from Kafka, as FOLIO publishes them (mod-patron-blocks' consumer).

Only when ``KAFKA_HOST`` is set: without it nothing here is imported or started, and the HTTP handlers
(mod-pubsub's way) remain the path events take. The consumer subscribes by pattern to every tenant's
``{ENV}.{tenant}.circulation.{ITEM_CHECKED_OUT|...}`` and ``{ENV}.{tenant}.feesfines.FEE_FINE_BALANCE_CHANGED``
topics, in the consumer group named after the module id, and takes the tenant from the record's
``X-Okapi-Tenant`` header (the topic's tenant when there is none; a record whose two disagree is refused).

A record's offset is committed only after its event is stored (in the event log and the summary):
- a record that can never be stored (not JSON, not the event's schema, no such tenant) is logged and
  skipped, as FOLIO's Kafka wrapper skips it, since retrying cannot help;
- when storing fails for a passing reason (the database is away) the partition goes back to that record
  and it is tried again after a pause, so nothing is lost and nothing is skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mod_users.config import Settings
from mod_users.contract import SchemaRegistry
from mod_users.descriptor import ARTIFACT_ID, module_version
from mod_users.resources.automated_blocks import events as ev
from mod_users.resources.automated_blocks import ingest
from mod_users.state import CONTRACT, STORE
from mod_users.storage.errors import DatabaseUnavailable, InvalidTenant, TenantNotInitialised
from mod_users.storage.records import RecordStore
from mod_users.storage.tenants import TenantSchema

log = logging.getLogger(__name__)

# aiokafka consumer settings. Offsets are committed by hand; a group new to a topic starts at its
# beginning (events are idempotent, so reading one again is harmless, missing one is not); new tenants'
# topics are found within metadata_max_age_ms.
CONSUMER_SETTINGS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "metadata_max_age_ms": 30_000,
    "session_timeout_ms": 10_000,
    "heartbeat_interval_ms": 3_000,
}
MAX_RECORDS = 500
# Pauses: after a failed connection or a passing failure to store (doubling up to the maximum).
RETRY_SECONDS, MAX_RETRY_SECONDS = 0.5, 30.0
# An unexpected failure on one record is tried this often before the record is skipped (logged).
UNEXPECTED_ATTEMPTS = 3


class Rejected(Exception):
    """A record that can never become an event; the message says why."""


@dataclass(frozen=True)
class Delivery:
    """A Kafka record read as one of our events."""

    tenant: TenantSchema
    event_type: ev.EventType
    payload: dict[str, Any]
    delivery: str  # topic:partition:offset


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers or ():
        if key.lower() == name.lower() and value is not None:
            return value.decode("utf-8", "replace")
    return None


def decode(
    env: str,
    schemas: SchemaRegistry,
    topic: str,
    partition: int,
    offset: int,
    headers: Sequence[tuple[str, bytes]],
    value: bytes | None,
) -> Delivery:
    """The event a record carries; :class:`Rejected` for one that is not a usable event."""
    parsed = ev.parse_topic(env, topic)
    if parsed is None:
        raise Rejected(f"topic {topic} is not one of the automated patron blocks' topics")
    topic_tenant, event_type = parsed
    tenant = _header(headers, "X-Okapi-Tenant") or topic_tenant
    if tenant != topic_tenant:
        raise Rejected(f"X-Okapi-Tenant {tenant[:64]!r} is not the topic's tenant {topic_tenant!r}")
    try:
        ts = TenantSchema(tenant)
    except InvalidTenant as exc:
        raise Rejected(str(exc)) from None
    try:
        payload = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(f"value is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Rejected("value is not a JSON object")
    problems = [f"{e.field or '(event)'}: {e.message}" for e in schemas.errors(event_type.schema, payload)]
    problems += [f"{name}: {ev.UNREPRESENTABLE_DATE}" for name, _ in ev.date_problems(event_type, payload)]
    if problems:
        raise Rejected(f"not a valid {event_type.name} event: {'; '.join(problems)}")
    return Delivery(ts, event_type, payload, f"{topic}:{partition}:{offset}")


class EventConsumer:
    """Reads the event topics of every tenant and stores each event before committing its offset."""

    def __init__(self, settings: Settings, store: RecordStore, schemas: SchemaRegistry, group_id: str) -> None:
        self.settings, self.store, self.schemas, self.group_id = settings, store, schemas, group_id
        # Counts for logs and tests: events stored, records skipped, passing failures (to be read again).
        self.stored = self.rejected = self.retried = 0

    @property
    def bootstrap(self) -> str:
        return f"{self.settings.kafka_host}:{self.settings.kafka_port}"

    async def run(self) -> None:
        """Consume until cancelled, reconnecting (with growing pauses) when Kafka is away."""
        from aiokafka import AIOKafkaConsumer
        from aiokafka.errors import KafkaError

        pause = RETRY_SECONDS
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group_id, **CONSUMER_SETTINGS)
            consumer.subscribe(pattern=ev.topic_pattern(self.settings.env))
            try:
                await consumer.start()
                log.info("kafka consumer started", extra={"bootstrap": self.bootstrap, "group": self.group_id})
                pause = RETRY_SECONDS
                await self._consume(consumer)
            except KafkaError as exc:
                log.warning("kafka unavailable", extra={"bootstrap": self.bootstrap, "error": repr(exc)})
            finally:
                await consumer.stop()
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_SECONDS)

    async def _consume(self, consumer: Any) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
            for partition, records in batch.items():
                await self._partition(consumer, partition, records)

    async def _partition(self, consumer: Any, partition: Any, records: list[Any]) -> None:
        """Store the records of one partition in order; commit past each stored (or hopeless) one."""
        done = None
        for record in records:
            if not await self._handle(record):
                if done is not None:
                    await consumer.commit({partition: done})
                consumer.seek(partition, record.offset)  # read it again after the pause
                return
            done = record.offset + 1
        if done is not None:
            await consumer.commit({partition: done})

    async def _handle(self, record: Any) -> bool:
        """Store one record's event; False when it must be read again later (a passing failure)."""
        try:
            delivery = decode(
                self.settings.env,
                self.schemas,
                record.topic,
                record.partition,
                record.offset,
                record.headers,
                record.value,
            )
        except Rejected as exc:
            self._skip(record, str(exc))
            return True
        pause = RETRY_SECONDS
        for _ in range(UNEXPECTED_ATTEMPTS):
            try:
                await ingest.receive(
                    self.store, delivery.tenant, delivery.event_type, delivery.payload, "kafka", delivery.delivery
                )
                self.stored += 1
                return True
            except TenantNotInitialised as exc:
                self._skip(record, str(exc))
                return True
            except (DatabaseUnavailable, ingest.TooMuchContention) as exc:
                self.retried += 1
                log.warning(
                    "kafka event not stored yet; will retry", extra={"offset": record.offset, "error": str(exc)}
                )
                await asyncio.sleep(pause)
                return False
            except Exception:  # our bug, or a record that breaks it: a few tries, then on
                log.exception("kafka event failed", extra={"topic": record.topic, "offset": record.offset})
                await asyncio.sleep(pause)
                pause *= 2
        self._skip(record, f"failed {UNEXPECTED_ATTEMPTS} times")
        return True

    def _skip(self, record: Any, reason: str) -> None:
        self.rejected += 1
        log.error(
            "kafka record skipped",
            extra={"topic": record.topic, "partition": record.partition, "offset": record.offset, "reason": reason},
        )


CONSUMER = web.AppKey("kafka_consumer", EventConsumer)


def consuming(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """The consumer's lifetime in the application (added only when KAFKA_HOST is set)."""

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        group = f"{ARTIFACT_ID}-{module_version(settings.contract_dir)}"
        consumer = EventConsumer(settings, app[STORE], app[CONTRACT].schemas, group)
        app[CONSUMER] = consumer
        task = asyncio.create_task(consumer.run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return lifetime
