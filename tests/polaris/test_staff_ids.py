"""CreatorID and ModifierID are Polaris staff user ids, integers as the seeds have them (Int, nullable): the
caller's ``Staff.polaris_user_id``, None for a FOLIO user (who has only a uuid, kept in the record's
metadata). Records stored before, with the FOLIO user's uuid in these fields, are rewritten by migration
0004 (the uuid stays in metadata)."""

from __future__ import annotations

import dataclasses
import json
import uuid

import asyncpg
import pytest

from mod_users.resources.polaris import associations, blocks
from mod_users.resources.polaris.registration import api as registration
from mod_users.storage.database import connect_kwargs
from mod_users.storage.migrations import MIGRATIONS, upgrade_tenant
from mod_users.storage.tables import ALL_TABLES, POLARIS_PATRON_ASSOCIATIONS, POLARIS_PATRON_BLOCKS, POLARIS_PATRONS
from mod_users.storage.tenants import TenantSchema
from tests.polaris.support import USER, associate, free_text_block, headers, new_patron, registration_body, url

MIGRATION = "0004-polaris-staff-ids-integer"


def _as_polaris_user(monkeypatch, user_id: int) -> None:
    """Callers authenticated as Polaris staff user ``user_id`` (as issue 14's Polaris listener will make
    them): the handlers' ``staff`` gives that id."""
    for module in (blocks, associations, registration):
        original = module.staff

        async def polaris_staff(call, original=original):
            return dataclasses.replace(await original(call), polaris_user_id=user_id)

        monkeypatch.setattr(module, "staff", polaris_staff)


async def test_a_folio_user_leaves_the_staff_ids_null(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    block = await free_text_block(app_client, sample_tenant, patron)
    assert (block["CreatorID"], block["ModifierID"]) == (None, None)
    result = await (
        await app_client.post(url("/patrons"), json=registration_body(), headers=headers(sample_tenant))
    ).json()
    assert (result["Success"], result["CreatorID"], result["ModifierID"]) == (True, None, None)


async def test_a_polaris_staff_users_id_is_recorded_as_an_integer(app_client, sample_tenant, monkeypatch):
    patron = await new_patron(app_client, sample_tenant)
    _as_polaris_user(monkeypatch, 177)
    block = await free_text_block(app_client, sample_tenant, patron, "Owes more than $50.00 in late fees.")
    assert (block["CreatorID"], block["ModifierID"]) == (177, 177)
    _as_polaris_user(monkeypatch, 1051)
    resp = await app_client.put(
        url(f"/patrons/{patron}/blocks/1/{block['BlockID']}"),
        json={"BlockDescription": "Paid"},
        headers=headers(sample_tenant),
    )
    changed = await resp.json()
    assert (resp.status, changed["CreatorID"], changed["ModifierID"]) == (200, 177, 1051)
    body = registration_body()
    saved = await (await app_client.post(url("/patrons"), json=body, headers=headers(sample_tenant))).json()
    assert (saved["Success"], saved["CreatorID"], saved["ModifierID"]) == (True, 1051, 1051)
    _as_polaris_user(monkeypatch, 9)
    updated = await (
        await app_client.put(url(f"/patrons/{saved['PatronID']}"), json=body, headers=headers(sample_tenant))
    ).json()
    assert (updated["Success"], updated["CreatorID"], updated["ModifierID"]) == (True, 1051, 9)


async def test_stored_uuids_in_the_staff_id_fields_are_migrated_to_null(app_client, fresh_sample_tenant, db_settings):
    """Records written before the fields became integers held the FOLIO user's uuid: the upgrade's migration
    makes them null (the uuid stays in metadata), so that answers and the configuration API carry integers
    or null only."""
    tenant = fresh_sample_tenant
    ts = TenantSchema(tenant)
    patron = await new_patron(app_client, tenant)
    block = await free_text_block(app_client, tenant, patron)
    await associate(app_client, tenant, patron, 1002)
    saved = await (await app_client.post(url("/patrons"), json=registration_body(), headers=headers(tenant))).json()
    con = await asyncpg.connect(**connect_kwargs(db_settings))
    try:
        for table in (POLARIS_PATRONS, POLARIS_PATRON_BLOCKS, POLARIS_PATRON_ASSOCIATIONS):
            await con.execute(
                f"UPDATE {ts.table(table.name)} SET jsonb = jsonb || $1::jsonb",
                json.dumps({"CreatorID": USER, "ModifierID": USER}),
            )
        # An untouched integer stays: only strings are the old uuids.
        await con.execute(
            f"UPDATE {ts.table(POLARIS_PATRONS.name)} SET jsonb = jsonb || '{{\"CreatorID\": 42}}' "
            "WHERE (jsonb->>'PatronID')::int = $1",
            saved["PatronID"],
        )
        await con.execute(f"DELETE FROM {ts.table('schema_migrations')} WHERE id = $1", MIGRATION)
        done = await upgrade_tenant(con, ts, ALL_TABLES, MIGRATIONS, "mod-users-0.1.0")
        assert f"applied migration {MIGRATION}" in done
        for table in (POLARIS_PATRONS, POLARIS_PATRON_BLOCKS, POLARIS_PATRON_ASSOCIATIONS):
            rows = await con.fetch(f"SELECT jsonb FROM {ts.table(table.name)}")
            assert rows
            for row in rows:
                record = json.loads(row[0])
                assert record.get("ModifierID") is None, (table.name, record)
                assert record.get("CreatorID") in (None, 42), (table.name, record)
                assert not isinstance(record.get("CreatorID"), str)
    finally:
        await con.close()
    detail = await (
        await app_client.get(url(f"/patrons/{patron}/blocks/freetext/{block['BlockID']}"), headers=headers(tenant))
    ).json()
    assert (detail["CreatorID"], detail["ModifierID"]) == (None, None)
    stored = await (
        await app_client.get(
            "/polaris/patrons", params={"query": f"PatronID=={saved['PatronID']}"}, headers=headers(tenant)
        )
    ).json()
    [record] = stored["patrons"]
    assert (record["CreatorID"], record["ModifierID"], record["metadata"]["createdByUserId"]) == (42, None, USER)


@pytest.mark.parametrize("field", ["CreatorID", "ModifierID"])
async def test_the_configuration_api_takes_integer_staff_ids_only(app_client, sample_tenant, field):
    patron = {"Barcode": f"S{uuid.uuid4().hex[:12]}", "OrganizationID": 3, "Registration": {"NameLast": "Ids"}}
    h = {"X-Okapi-Tenant": sample_tenant, "X-Okapi-User-Id": USER}
    resp = await app_client.post("/polaris/patrons", json={**patron, field: USER}, headers=h)
    assert resp.status == 422 and f'"key": "{field}"' in await resp.text(), await resp.text()
    resp = await app_client.post("/polaris/patrons", json={**patron, field: 177}, headers=h)
    assert resp.status == 201 and (await resp.json())[field] == 177
