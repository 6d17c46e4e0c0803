"""The generic JSONB record store: totals, transactions, metadata, bad ids."""

from __future__ import annotations

import json
import uuid

import pytest

from mod_users.storage.database import create_pool
from mod_users.storage.errors import DuplicateRecord, TenantNotInitialised
from mod_users.storage.records import EXACT_COUNT_LIMIT, RecordStore
from mod_users.storage.tables import PATRON_BLOCK_CONDITIONS as TABLE
from mod_users.storage.tenants import TenantSchema


@pytest.fixture
async def store(db_settings):
    pool = await create_pool(db_settings)
    yield RecordStore(pool)
    await pool.close()


def _record(i):
    return {
        "name": f"r{i:05d}",
        "blockBorrowing": False,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
    }


async def test_totals_are_exact_up_to_the_limit_then_estimated(store, fresh_tenant):
    ts = TenantSchema(fresh_tenant)
    count = EXACT_COUNT_LIMIT + 500
    async with store.transaction(ts) as tx:
        await tx._db.executemany(
            f"INSERT INTO {ts.table(TABLE.name)} (id, jsonb) VALUES ($1, $2)",
            [(uuid.uuid4(), _record(i)) for i in range(count)],
        )
        await tx._db.execute(f"ANALYZE {ts.table(TABLE.name)}")
    page = await store.search(ts, TABLE, None, 0, 10)
    assert len(page.records) == 10
    assert page.exact is False
    assert page.total > EXACT_COUNT_LIMIT
    assert abs(page.total - count) < count * 0.2  # the planner's estimate after ANALYZE
    small = await store.search_where(ts, TABLE, "jsonb->>'name' < $1", ["r00020"], "", 0, 5)
    assert (small.total, small.exact, len(small.records)) == (20, True, 5)


async def test_the_total_of_all_records_follows_inserts_made_since_the_last_analyze(store, fresh_tenant):
    """pg_class.reltuples is what the last ANALYZE counted; the estimate scales it to the table's pages
    now, as the planner does, instead of reporting a quarter of the rows after a bulk insert."""
    ts = TenantSchema(fresh_tenant)
    table = ts.table(TABLE.name)
    analysed, added = 3000, 9000
    async with store.transaction(ts) as tx:
        await tx._db.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")  # no ANALYZE but ours
        await tx._db.executemany(
            f"INSERT INTO {table} (id, jsonb) VALUES ($1, $2)", [(uuid.uuid4(), _record(i)) for i in range(analysed)]
        )
        await tx._db.execute(f"ANALYZE {table}")
    async with store.transaction(ts) as tx:
        await tx._db.executemany(
            f"INSERT INTO {table} (id, jsonb) VALUES ($1, $2)",
            [(uuid.uuid4(), _record(i)) for i in range(analysed, analysed + added)],
        )
    page = await store.search(ts, TABLE, None, 0, 10)
    assert page.exact is False
    assert abs(page.total - (analysed + added)) < (analysed + added) * 0.1, page.total


async def test_without_statistics_of_rows_the_total_is_the_planners(store, fresh_tenant):
    """An ANALYZE of the empty table leaves no rows per page to scale: the planner's estimate is used."""
    ts = TenantSchema(fresh_tenant)
    table = ts.table(TABLE.name)
    async with store.transaction(ts) as tx:
        await tx._db.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        await tx._db.execute(f"ANALYZE {table}")
        await tx._db.executemany(
            f"INSERT INTO {table} (id, jsonb) VALUES ($1, $2)", [(uuid.uuid4(), _record(i)) for i in range(6000)]
        )
        plan = await tx._db.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE TRUE")
    page = await store.search(ts, TABLE, None, 0, 10)
    assert page.total == round(json.loads(plan)[0]["Plan"]["Plan Rows"]) > 4 * EXACT_COUNT_LIMIT


async def test_a_failed_transaction_stores_nothing(store, fresh_tenant):
    ts = TenantSchema(fresh_tenant)
    rid = str(uuid.uuid4())
    await store.insert(ts, TABLE, {**_record(1), "id": rid}, None)
    fresh = str(uuid.uuid4())
    with pytest.raises(DuplicateRecord):
        async with store.transaction(ts) as tx:
            await tx.insert(ts, TABLE, {**_record(2), "id": fresh}, None)
            await tx.insert(ts, TABLE, {**_record(3), "id": rid}, None)
    assert await store.get(ts, TABLE, fresh) is None


async def test_unknown_tenant_is_reported_as_such(store):
    with pytest.raises(TenantNotInitialised):
        await store.get(TenantSchema("nobodyhere"), TABLE, str(uuid.uuid4()))


async def test_malformed_ids_find_nothing(store, fresh_tenant):
    ts = TenantSchema(fresh_tenant)
    assert await store.get(ts, TABLE, "1 OR 1=1") is None
    assert await store.update(ts, TABLE, "nope", _record(1), None) is None
    assert await store.delete(ts, TABLE, "nope") is False


async def test_estimates_follow_the_index_statistics_for_a_common_value(store, fresh_tenant):
    """A filter matching half the table must be estimated near half, not near zero: the translator
    gives the planner one indexed condition, not two whose selectivities it would multiply."""
    ts = TenantSchema(fresh_tenant)
    count = 6000
    async with store.transaction(ts) as tx:
        await tx._db.executemany(
            f"INSERT INTO {ts.table(TABLE.name)} (id, jsonb) VALUES ($1, $2)",
            [(uuid.uuid4(), {**_record(i), "valueType": "Integer" if i % 2 else "Double"}) for i in range(count)],
        )
        await tx._db.execute(f"ANALYZE {ts.table(TABLE.name)}")
    page = await store.search(ts, TABLE, "valueType==Integer", 0, 10)
    assert len(page.records) == 10 and page.exact is False
    assert count * 0.4 < page.total < count * 0.6


async def test_a_unique_index_violation_names_its_field_and_value(store, fresh_tenant, db_settings):
    from mod_users import cql
    from mod_users.storage.tables import Table

    ts = TenantSchema(fresh_tenant)
    table = Table("unique_things", indexes=(cql.Index("code", "unique"),))
    async with store.transaction(ts) as tx:
        await tx._db.execute(f"CREATE TABLE {ts.table(table.name)} (id uuid PRIMARY KEY, jsonb jsonb NOT NULL)")
        await tx._db.execute(cql.index_ddl(table.indexes[0], ts.table(table.name), table.index_name(table.indexes[0])))
    await store.insert(ts, table, {"code": "A-1"}, None)
    with pytest.raises(DuplicateRecord) as found:
        await store.insert(ts, table, {"code": "a-1"}, None)  # the index folds case
    assert (found.value.field, found.value.value) == ("code", "a-1")
    assert str(found.value) == "code value already exists in table unique_things: a-1"
    rid = str(uuid.uuid4())
    await store.insert(ts, table, {"id": rid, "code": "B"}, None)
    with pytest.raises(DuplicateRecord) as found:
        await store.insert(ts, table, {"id": rid, "code": "C"}, None)
    assert (found.value.field, found.value.value) == ("id", rid)


async def test_generic_reads_for_rules(store, fresh_tenant):
    ts = TenantSchema(fresh_tenant)
    ids = []
    for i in range(5):
        ids.append((await store.insert(ts, TABLE, _record(i), None))["id"])
    got = await store.get_many(ts, TABLE, [ids[0], ids[3], "not-a-uuid", str(uuid.uuid4())])
    assert sorted(r["id"] for r in got) == sorted([ids[0], ids[3]])
    assert await store.get_many(ts, TABLE, []) == []
    assert await store.count(ts, TABLE, 'name=="r0000*"') == 5
    found = await store.find(ts, TABLE, "cql.allRecords=1 sortby name/sort.descending", 2)
    assert [r["name"] for r in found] == ["r00004", "r00003"]
