"""/patron-block-limits against a real database: CRUD, CQL, and every rule (mod-patron-blocks' value
bounds per valueType, the condition must exist, one limit per patron group and condition, a condition in
use cannot be deleted)."""

from __future__ import annotations

import asyncio

import pytest

from mod_users.resources.automated_blocks import limits as rules
from mod_users.resources.automated_blocks.computation import MAX_NUMBER_OF_LOST_ITEMS, MAX_OUTSTANDING_FEE_FINE_BALANCE
from mod_users.resources.patron_block_conditions import STILL_LIMITED
from tests.automated_blocks.support import condition_body, new_id

PATH = "/patron-block-limits"


def limit(condition_id: str = MAX_NUMBER_OF_LOST_ITEMS, value=3, group: str | None = None) -> dict:
    return {"patronGroupId": group or new_id(), "conditionId": condition_id, "value": value}


async def test_lifecycle_and_search(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    body = limit()
    resp = await app_client.post(PATH, json=body, headers=h)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert resp.headers["Location"] == f"{PATH}/{created['id']}" and created["_version"] == 1
    found = await (
        await app_client.get(PATH, params={"query": f'patronGroupId=="{body["patronGroupId"]}"'}, headers=h)
    ).json()
    assert [x["id"] for x in found["patronBlockLimits"]] == [created["id"]] and found["totalRecords"] == 1
    resp = await app_client.put(f"{PATH}/{created['id']}", json=dict(body, value=7), headers=h)  # no id: the URL's
    assert resp.status == 204
    assert (await (await app_client.get(f"{PATH}/{created['id']}", headers=h)).json())["value"] == 7
    assert (await app_client.delete(f"{PATH}/{created['id']}", headers=h)).status == 204
    assert (await app_client.get(f"{PATH}/{created['id']}", headers=h)).status == 404


@pytest.mark.parametrize(
    ("condition", "value", "error"),
    [
        (MAX_NUMBER_OF_LOST_ITEMS, 0, None),
        (MAX_NUMBER_OF_LOST_ITEMS, 999999, None),
        (MAX_NUMBER_OF_LOST_ITEMS, 5.0, None),
        (MAX_NUMBER_OF_LOST_ITEMS, 1000000, rules.INTEGER_OUT_OF_RANGE),
        (MAX_NUMBER_OF_LOST_ITEMS, -1, rules.INTEGER_OUT_OF_RANGE),
        (MAX_NUMBER_OF_LOST_ITEMS, 1.5, rules.INTEGER_OUT_OF_RANGE),
        (MAX_OUTSTANDING_FEE_FINE_BALANCE, 0, None),
        (MAX_OUTSTANDING_FEE_FINE_BALANCE, 0.01, None),
        (MAX_OUTSTANDING_FEE_FINE_BALANCE, 999999.99, None),
        (MAX_OUTSTANDING_FEE_FINE_BALANCE, 1000000, rules.DOUBLE_OUT_OF_RANGE),
        (MAX_OUTSTANDING_FEE_FINE_BALANCE, -0.01, rules.DOUBLE_OUT_OF_RANGE),
    ],
)
async def test_value_bounds_follow_the_conditions_value_type(app_client, tenant, condition, value, error):
    resp = await app_client.post(PATH, json=limit(condition, value), headers={"X-Okapi-Tenant": tenant})
    if error is None:
        assert resp.status == 201, await resp.text()
        return
    assert resp.status == 422
    assert (await resp.json())["errors"][0] == {
        "message": error,
        "type": "1",
        "code": "-1",
        "parameters": [{"key": "value", "value": str(value)}],
    }


async def test_a_value_must_be_a_number(app_client, tenant):
    resp = await app_client.post(PATH, json=limit(value="10"), headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["code"] == "jsonSchema.type"


async def test_the_condition_must_exist(app_client, tenant):
    missing = new_id()
    resp = await app_client.post(PATH, json=limit(missing), headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 422
    error = (await resp.json())["errors"][0]
    assert error["message"] == rules.NO_SUCH_CONDITION and error["parameters"][0] == {
        "key": "conditionId",
        "value": missing,
    }


async def test_one_limit_per_patron_group_and_condition(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    group = new_id()
    first = await (await app_client.post(PATH, json=limit(group=group), headers=h)).json()
    resp = await app_client.post(PATH, json=limit(group=group, value=9), headers=h)
    assert resp.status == 422 and (await resp.json())["errors"][0]["message"] == rules.ONE_PER_GROUP
    # another condition, or another group: fine; the limit itself may be replaced
    assert (
        await app_client.post(PATH, json=limit(MAX_OUTSTANDING_FEE_FINE_BALANCE, group=group), headers=h)
    ).status == 201
    assert (await app_client.post(PATH, json=limit(), headers=h)).status == 201
    assert (await app_client.put(f"{PATH}/{first['id']}", json=dict(first, value=4), headers=h)).status == 204
    # moving another limit onto the taken pair is refused too
    other = await (await app_client.post(PATH, json=limit(MAX_OUTSTANDING_FEE_FINE_BALANCE), headers=h)).json()
    moved = dict(other, patronGroupId=group, conditionId=MAX_NUMBER_OF_LOST_ITEMS, value=1)
    resp = await app_client.put(f"{PATH}/{other['id']}", json=moved, headers=h)
    assert resp.status == 422


async def test_concurrent_creations_of_one_pair_make_one_limit(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    group = new_id()
    answers = await asyncio.gather(
        *(app_client.post(PATH, json=limit(group=group, value=v), headers=h) for v in range(12))
    )
    assert sorted(r.status for r in answers) == [201] + [422] * 11
    found = await (await app_client.get(PATH, params={"query": f'patronGroupId=="{group}"'}, headers=h)).json()
    assert found["totalRecords"] == 1


async def test_a_condition_that_limits_use_cannot_be_deleted(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    condition = condition_body(new_id())
    assert (await app_client.post("/patron-block-conditions", json=condition, headers=h)).status == 201
    used = await (await app_client.post(PATH, json=limit(condition["id"]), headers=h)).json()
    resp = await app_client.delete(f"/patron-block-conditions/{condition['id']}", headers=h)
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["message"] == f"{STILL_LIMITED} (1)"
    assert (await app_client.get(f"/patron-block-conditions/{condition['id']}", headers=h)).status == 200
    assert (await app_client.delete(f"{PATH}/{used['id']}", headers=h)).status == 204
    assert (await app_client.delete(f"/patron-block-conditions/{condition['id']}", headers=h)).status == 204


async def test_a_limit_and_its_conditions_delete_cannot_both_succeed(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    for _ in range(5):
        condition = condition_body(new_id())
        await app_client.post("/patron-block-conditions", json=condition, headers=h)
        create, delete = await asyncio.gather(
            app_client.post(PATH, json=limit(condition["id"]), headers=h),
            app_client.delete(f"/patron-block-conditions/{condition['id']}", headers=h),
        )
        assert sorted((create.status, delete.status)) in ([201, 422], [204, 422])
