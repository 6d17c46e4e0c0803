"""The seed document of Polaris-style patron blocks (``000_9c9e3777822d28e2.txt``), table by table: every call
is in the RAML with its parameters, permission and response codes; form data and example answers are in the
schemas; live answers carry the documented fields with their types, and the documented failures their texts.

Where the document contradicts itself, docs/polaris.md says which reading was taken: BlockDescription's
form data type is "Integer" but it is "the text of the free-text block" (a string here); the details'
and DELETE's "Invalid PatronID" is the "Invalid Patron ID." of the summary's and POST's code tables.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from mod_users.resources.polaris import blocks
from tests.polaris.support import SECURED_PATRON, UNKNOWN, headers, new_patron, url
from tests.seeds.contract import (
    SEED_TYPES,
    answer_schema,
    body_schema,
    endpoint,
    fits,
    json_type,
    properties,
    raml_example_message,
    types_of,
)
from tests.seeds.documents import BLOCKS, Call, field_type, polaris_calls

CALLS = polaris_calls(BLOCKS)
# The form data row whose type the document writes as "Integer" while its text says it is text.
FORM_TYPES = {"BlockDescription": "string"}
# A bullet the document writes two ways: the message is the one its full code lines give.
BULLET_TEXTS = {"Invalid PatronID": "Invalid Patron ID."}
POLARIS_STAFF_ID = 177  # the seed's CreatorID


def test_the_document_lists_the_seven_calls():
    assert [(c.method, c.path.split("?")[0]) for c in CALLS] == [
        ("GET", "patronblocks"),
        ("GET", "patrons/{id}/blockssummary"),
        ("GET", "patrons/{patronid}/blocks/freetext/{blockid}"),
        ("GET", "patrons/{patronid}/blocks/stops/{blockid}"),
        ("POST", "patrons/{id}/blocks"),
        ("PUT", "patrons/{patronid}/blocks/{blocktype}/{blockid}"),
        ("DELETE", "patrons/{patronid}/blocks/{blocktype}/{blockid}"),
    ]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c.method} {c.path}")
def test_each_call_is_in_the_raml_with_its_parameters_permission_and_codes(call: Call):
    end = endpoint(call.method, call.path)
    for row in call.params:
        name = {"id": "patronId", "patronid": "patronId", "blockid": "blockId", "blocktype": "blockType"}.get(
            row.name, row.name
        )
        param = end.uri_params.get(name) or end.query_params[name]
        assert param.type == SEED_TYPES[row.type], row
        assert param.required == (row.required == "Yes") or name in end.uri_params, row
    for permission in call.permissions:
        assert permission in end.description, permission
    for status, line in call.codes.items():
        assert status in end.responses, (status, line)
        if status >= 400:
            # "FAILURE. Invalid organization ID specified." -> the message of the RAML's example
            assert raml_example_message(end, status) == line.split(". ", 1)[1], (status, line)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c.method} {c.path}")
def test_form_data_and_example_answers_are_in_the_schemas(call: Call):
    end = endpoint(call.method, call.path)
    if call.form:
        props = properties(body_schema(end))
        for row in call.form:
            assert FORM_TYPES.get(row.name, SEED_TYPES[row.type]) in types_of(props[row.name]), row
    if call.response_fields:
        props = properties(answer_schema(end))
        for name, value in call.response_fields.items():
            assert name in props, name
            assert fits(field_type(value), types_of(props[name])), (name, value, props[name])


def _as_polaris_staff(monkeypatch) -> None:
    original = blocks.staff

    async def polaris_staff(call):
        return dataclasses.replace(await original(call), polaris_user_id=POLARIS_STAFF_ID)

    monkeypatch.setattr(blocks, "staff", polaris_staff)


def _assert_documented_fields(call: Call, answer: object) -> None:
    rows = answer if isinstance(answer, list) else [answer]
    assert rows, call.path
    for row in rows:
        for name, value in call.response_fields.items():
            assert name in row, (call.path, name)
            assert json_type(row[name]) == field_type(value), (call.path, name, row[name])


async def test_live_answers_have_the_documented_fields_and_types(app_client, sample_tenant, monkeypatch):
    """Each call answers with every field of its example answer, a value of the example's type (CreatorID
    and ModifierID integers: the caller is a Polaris staff user here)."""
    _as_polaris_staff(monkeypatch)
    h = headers(sample_tenant)
    patron = await new_patron(app_client, sample_tenant)
    by_path = {c.path.split("?")[0]: c for c in CALLS}
    posted = await (
        await app_client.post(
            url(f"/patrons/{patron}/blocks"),
            json={"BlockType": 1, "BlockDescription": "Patron owes more than $50.00 in late fees."},
            headers=h,
        )
    ).json()
    _assert_documented_fields(by_path["patrons/{id}/blocks"], posted)
    stop = await (
        await app_client.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 5}, headers=h)
    ).json()
    answers = {
        "patronblocks": await app_client.get(url("/patronblocks"), params={"orgID": "3"}, headers=h),
        "patrons/{id}/blockssummary": await app_client.get(
            url(f"/patrons/{patron}/blockssummary"),
            params={"logonBranchID": "3", "associatedblocks": "false"},
            headers=h,
        ),
        "patrons/{patronid}/blocks/freetext/{blockid}": await app_client.get(
            url(f"/patrons/{patron}/blocks/freetext/{posted['BlockID']}"), headers=h
        ),
        "patrons/{patronid}/blocks/stops/{blockid}": await app_client.get(
            url(f"/patrons/{patron}/blocks/stops/{stop['BlockID']}"), headers=h
        ),
    }
    for path, resp in answers.items():
        assert resp.status == 200, await resp.text()
        _assert_documented_fields(by_path[path], await resp.json())
    put = await app_client.put(
        url(f"/patrons/{patron}/blocks/1/{posted['BlockID']}"), json={"BlockDescription": "Paid"}, headers=h
    )
    _assert_documented_fields(by_path["patrons/{patronid}/blocks/{blocktype}/{blockid}"], await put.json())
    deleted = await app_client.delete(url(f"/patrons/{patron}/blocks/2/{stop['BlockID']}"), headers=h)
    assert (deleted.status, await deleted.json()) == (200, True)


def _path(call: Call, patron: int, block_type: int = 1, block_id: int = 1) -> str:
    resource = call.path.split("?")[0]
    for names, value in ((("{id}", "{patronid}"), patron), (("{blocktype}",), block_type), (("{blockid}",), block_id)):
        for name in names:
            resource = resource.replace(name, str(value))
    return url("/" + resource)


_QUERY = {"orgID": "3", "logonBranchID": "3", "associatedblocks": "false"}


async def _message(client, tenant, call: Call, patron: int, body=None, **kw) -> tuple[int, str]:
    h = headers(tenant, **kw)
    params = {k: v for k, v in _QUERY.items() if k in call.path}
    resp = await client.request(call.method, _path(call, patron), params=params, json=body, headers=h)
    return resp.status, (await resp.json())["Message"]


async def test_the_documented_failures_answer_the_documented_texts(app_client, sample_tenant):
    """Every code line and bullet of the failure tables, provoked on its call: the message is the text the
    document gives (a bullet's text begins it, followed by the values concerned)."""
    patron = await new_patron(app_client, sample_tenant)
    tenant = sample_tenant
    seen = set()
    for call in CALLS:
        for status, line in call.codes.items():
            if status < 400:
                continue
            text = line.split(". ", 1)[1]
            if status == 403:
                got = await _message(app_client, tenant, call, patron, {"BlockType": 1}, permissions=())
            elif status == 409:
                got = await _message(
                    app_client, tenant, call, SECURED_PATRON, {"BlockType": 1, "BlockDescription": "x"}
                )
            elif call.path.startswith("patronblocks"):
                resp = await app_client.get(url("/patronblocks"), params={"orgID": "99"}, headers=headers(tenant))
                got = resp.status, (await resp.json())["Message"]
            else:
                got = await _message(app_client, tenant, call, UNKNOWN, {"BlockType": 1, "BlockDescription": "x"})
            assert got == (status, text), (call.method, call.path, status)
            seen.add((call.method, call.path, status))
        for bullet in call.bullets:
            text = BULLET_TEXTS.get(bullet, bullet)
            status, message = await _provoke(app_client, tenant, call, bullet, patron)
            assert 400 <= status < 500 and message.startswith(text.rstrip(".")), (call.method, bullet, message)
            seen.add((call.method, call.path, bullet))
    assert len(seen) == sum(len([s for s in c.codes if s >= 400]) + len(c.bullets) for c in CALLS)


async def _provoke(client, tenant, call: Call, bullet: str, patron: int) -> tuple[int, str]:
    """The failure a bullet names, on ``call``."""
    if bullet == "Invalid PatronID":
        return await _message(client, tenant, call, UNKNOWN)
    if bullet == "Invalid BlockType":
        if call.method == "POST":
            return await _message(client, tenant, call, patron, {"BlockType": 7, "BlockDescription": "x"})
        resp = await client.request(
            call.method, url(f"/patrons/{patron}/blocks/7/1"), json={"BlockID": 1}, headers=headers(tenant)
        )
        return resp.status, (await resp.json())["Message"]
    if bullet == "Invalid BlockID":
        if call.method == "POST":
            return await _message(client, tenant, call, patron, {"BlockType": 2, "BlockID": UNKNOWN})
        return await _message(client, tenant, call, patron, {"BlockDescription": "x"})  # block 1 is not this patron's
    text = "" if bullet.startswith("Null or empty") else "x" * 256
    if call.method == "POST":
        return await _message(client, tenant, call, patron, {"BlockType": 1, "BlockDescription": text})
    block = await (
        await client.post(
            url(f"/patrons/{patron}/blocks"),
            json={"BlockType": 1, "BlockDescription": f"b{uuid.uuid4().hex[:6]}"},
            headers=headers(tenant),
        )
    ).json()
    resp = await client.put(
        url(f"/patrons/{patron}/blocks/1/{block['BlockID']}"), json={"BlockDescription": text}, headers=headers(tenant)
    )
    return resp.status, (await resp.json())["Message"]
