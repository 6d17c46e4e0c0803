"""/patron-block-conditions against a real database: CRUD, paging, every documented error."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from mod_users.resources.patron_block_conditions import ACTION_REQUIRED, MESSAGE_REQUIRED

REFERENCE_IDS = {
    "3d7c52dc-c732-4223-8bf8-e5917801386f": ("Maximum number of items charged out", "Integer"),
    "72b67965-5b73-4840-bc0b-be8f3f6e047e": ("Maximum number of lost items", "Integer"),
    "584fbd4f-6a34-4730-a6ca-73a6a6a9d845": ("Maximum number of overdue items", "Integer"),
    "e5b45031-a202-4abb-917b-e1df9346fe2c": ("Maximum number of overdue recalls", "Integer"),
    "cf7a0d5f-a327-4ca1-aa9e-dc55ec006b8a": ("Maximum outstanding fee/fine balance", "Double"),
    "08530ac4-07f2-48e6-9dda-a97bc2bf7053": ("Recall overdue by maximum number of days", "Integer"),
}
USER = "2205005b-ca51-4a04-87fd-938eefa8f6de"
PATH = "/patron-block-conditions"


def condition(**overrides):
    record = {
        "name": f"condition {uuid.uuid4().hex[:8]}",
        "blockBorrowing": True,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
        "message": "You owe too much",
    }
    record.update(overrides)
    return record


def errors_by_key(body):
    return {e["parameters"][0]["key"]: e for e in body["errors"]}


async def test_reference_data_is_loaded_with_exact_ids(app_client, tenant):
    resp = await app_client.get(PATH, params={"limit": "100"}, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 200
    body = await resp.json()
    found = {c["id"]: (c["name"], c["valueType"]) for c in body["patronBlockConditions"]}
    for rid, expected in REFERENCE_IDS.items():
        assert found[rid] == expected
    assert body["totalRecords"] == len(body["patronBlockConditions"])


async def test_full_lifecycle(app_client, fresh_tenant):
    h = {"X-Okapi-Tenant": fresh_tenant, "X-Okapi-User-Id": USER}
    resp = await app_client.post(PATH, json=condition(name="Lifecycle"), headers=h)
    assert resp.status == 201
    created = await resp.json()
    rid = created["id"]
    assert uuid.UUID(rid)
    assert resp.headers["Location"] == f"{PATH}/{rid}"
    assert created["metadata"]["createdByUserId"] == USER
    assert created["metadata"]["createdDate"] == created["metadata"]["updatedDate"]

    resp = await app_client.get(f"{PATH}/{rid}", headers=h)
    assert resp.status == 200
    assert (await resp.json())["name"] == "Lifecycle"

    other_user = str(uuid.uuid4())
    changed = condition(
        name="Lifecycle renamed", id=rid, blockBorrowing=False, blockRequests=True, _version=created["_version"]
    )
    resp = await app_client.put(
        f"{PATH}/{rid}", json=changed, headers={"X-Okapi-Tenant": fresh_tenant, "X-Okapi-User-Id": other_user}
    )
    assert resp.status == 204
    assert await resp.read() == b""
    stored = await (await app_client.get(f"{PATH}/{rid}", headers=h)).json()
    assert stored["name"] == "Lifecycle renamed" and stored["blockRequests"] is True
    assert stored["metadata"]["createdByUserId"] == USER
    assert stored["metadata"]["createdDate"] == created["metadata"]["createdDate"]
    assert stored["metadata"]["updatedByUserId"] == other_user
    assert stored["metadata"]["updatedDate"] >= created["metadata"]["updatedDate"]

    resp = await app_client.delete(f"{PATH}/{rid}", headers=h)
    assert resp.status == 204
    assert (await app_client.get(f"{PATH}/{rid}", headers=h)).status == 404
    assert (await app_client.delete(f"{PATH}/{rid}", headers=h)).status == 404


async def test_post_keeps_a_given_id_and_put_without_id_in_body(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    rid = str(uuid.uuid4())
    resp = await app_client.post(PATH, json=condition(id=rid), headers=h)
    assert resp.status == 201
    assert (await resp.json())["id"] == rid
    resp = await app_client.put(f"{PATH}/{rid}", json=condition(name="no id in body", _version=1), headers=h)
    assert resp.status == 204
    assert (await (await app_client.get(f"{PATH}/{rid}", headers=h)).json())["id"] == rid


async def test_metadata_user_comes_from_the_token_when_no_user_header(app_client, tenant):
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "admin", "user_id": USER}).encode()).decode().rstrip("=")
    token = f"eyJhbGciOiJIUzI1NiJ9.{claims}.signature"
    resp = await app_client.post(PATH, json=condition(), headers={"X-Okapi-Tenant": tenant, "X-Okapi-Token": token})
    assert resp.status == 201
    assert (await resp.json())["metadata"]["createdByUserId"] == USER


async def test_client_metadata_is_replaced_by_the_server(app_client, tenant):
    other = "33333333-3333-4333-8333-333333333333"
    sent = condition(metadata={"createdDate": "1999-01-01T00:00:00Z", "createdByUserId": other})
    resp = await app_client.post(PATH, json=sent, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 201
    meta = (await resp.json())["metadata"]
    assert not meta["createdDate"].startswith("1999")
    assert "createdByUserId" not in meta


@pytest.mark.parametrize(
    "metadata",
    [
        {"createdDate": "yesterday"},
        {"createdDate": "2020-01-01T00:00:00Z", "createdByUserId": "not-a-uuid"},
        {"createdDate": "2020-01-01T00:00:00Z", "x": 1},
        {},
    ],
)
async def test_malformed_client_metadata_is_422_as_in_rmb(app_client, tenant, metadata):
    resp = await app_client.post(PATH, json=condition(metadata=metadata), headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 422
    assert all(e["parameters"][0]["key"].startswith("metadata") for e in (await resp.json())["errors"])


async def test_get_unknown_and_malformed_ids_are_404(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    for rid in (str(uuid.uuid4()), "not-a-uuid"):
        resp = await app_client.get(f"{PATH}/{rid}", headers=h)
        assert resp.status == 404
        assert resp.content_type == "text/plain"
        assert rid in await resp.text()


async def test_put_unknown_id_is_404(app_client, tenant):
    rid = str(uuid.uuid4())
    resp = await app_client.put(f"{PATH}/{rid}", json=condition(id=rid, _version=1), headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 404


async def test_put_with_a_different_body_id_is_422_and_changes_nothing(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    created = await (await app_client.post(PATH, json=condition(name="keep me"), headers=h)).json()
    resp = await app_client.put(f"{PATH}/{created['id']}", json=condition(id=str(uuid.uuid4())), headers=h)
    assert resp.status == 422
    body = await resp.json()
    assert body["errors"][0]["parameters"][0]["key"] == "id"
    assert (await (await app_client.get(f"{PATH}/{created['id']}", headers=h)).json())["name"] == "keep me"


async def test_duplicate_id_is_422_not_500(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    rid = str(uuid.uuid4())
    assert (await app_client.post(PATH, json=condition(id=rid, name="first"), headers=h)).status == 201
    resp = await app_client.post(PATH, json=condition(id=rid, name="second"), headers=h)
    assert resp.status == 422
    body = await resp.json()
    assert "already exists" in body["errors"][0]["message"]
    assert body["errors"][0]["parameters"] == [{"key": "id", "value": rid}]
    assert (await (await app_client.get(f"{PATH}/{rid}", headers=h)).json())["name"] == "first"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": None}, "name", "jsonSchema.type"),
        ({"blockBorrowing": "yes"}, "blockBorrowing", "jsonSchema.type"),
        ({"valueType": "Float"}, "valueType", "jsonSchema.enum"),
        ({"colour": "red"}, "colour", "jsonSchema.additionalProperties"),
        ({"id": "12345"}, "id", "jsonSchema.pattern"),
        ({"name": ""}, "name", "jsonSchema.minLength"),
        ({"name": "n" * 1025}, "name", "jsonSchema.maxLength"),
    ],
)
async def test_schema_violations_are_422_naming_the_field(app_client, tenant, body, field, code):
    resp = await app_client.post(PATH, json=condition(**body), headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 422
    errors = errors_by_key(await resp.json())
    assert errors[field]["code"] == code
    assert errors[field]["type"] == "1"


async def test_every_failing_field_is_reported(app_client, tenant):
    sent = {"name": 5, "valueType": "Nope", "extra": True}
    resp = await app_client.post(PATH, json=sent, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 422
    body = await resp.json()
    keys = set(errors_by_key(body))
    assert keys == {"name", "valueType", "extra", "blockBorrowing", "blockRenewals", "blockRequests"}
    assert body["total_records"] == len(body["errors"]) == 6
    assert errors_by_key(body)["blockBorrowing"]["message"] == "must not be null"


async def test_put_schema_violation_is_422_and_keeps_the_record(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    created = await (await app_client.post(PATH, json=condition(name="intact"), headers=h)).json()
    resp = await app_client.put(f"{PATH}/{created['id']}", json={"name": "x"}, headers=h)
    assert resp.status == 422
    assert (await (await app_client.get(f"{PATH}/{created['id']}", headers=h)).json())["name"] == "intact"


@pytest.mark.parametrize(
    ("flags", "message", "expected"),
    [
        ({"blockBorrowing": True}, "", MESSAGE_REQUIRED),
        ({"blockRenewals": True}, "   ", MESSAGE_REQUIRED),
        ({"blockRequests": True}, None, MESSAGE_REQUIRED),
        ({"blockBorrowing": False}, "Please pay", ACTION_REQUIRED),
    ],
)
async def test_message_and_blocked_actions_go_together(app_client, tenant, flags, message, expected):
    record = condition(**{"blockBorrowing": False, **flags})
    if message is None:
        del record["message"]
    else:
        record["message"] = message
    h = {"X-Okapi-Tenant": tenant}
    resp = await app_client.post(PATH, json=record, headers=h)
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["message"] == expected
    # The same rule guards PUT, and a refused PUT leaves the stored record alone.
    created = await (await app_client.post(PATH, json=condition(name="guarded"), headers=h)).json()
    resp = await app_client.put(f"{PATH}/{created['id']}", json=record, headers=h)
    assert resp.status == 422
    assert (await (await app_client.get(f"{PATH}/{created['id']}", headers=h)).json())["name"] == "guarded"


async def test_no_message_and_no_blocked_action_is_fine(app_client, tenant):
    record = condition(blockBorrowing=False, message="")
    assert (await app_client.post(PATH, json=record, headers={"X-Okapi-Tenant": tenant})).status == 201


@pytest.mark.parametrize(
    "raw",
    [b'{"name": ', b"[1, 2", b"{'single': 'quotes'}", b'{"a": NaN}', b"\xff\xfe{}", b""],
)
async def test_malformed_json_is_400_text_with_position(app_client, tenant, raw):
    resp = await app_client.post(PATH, data=raw, headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json"})
    assert resp.status == 400
    assert resp.content_type == "text/plain"
    text = await resp.text()
    assert text
    if raw.startswith((b'{"name"', b"[1", b"{'")):
        assert "line 1, column" in text


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1" + b"0" * 400 + b".5", b"NaN", b"Infinity", b"-Infinity"])
async def test_a_number_json_cannot_hold_is_400_naming_it(app_client, fresh_tenant, number):
    # Python reads 1e400 as infinity, which jsonb cannot store: refused before anything reaches PostgreSQL
    # (a fee/fine balance event's was 'a value cannot be stored: invalid input syntax for type json').
    h = {"X-Okapi-Tenant": fresh_tenant, "Content-Type": "application/json"}
    user = str(uuid.uuid4())
    raw = b'{"userId": "%s", "feeFineId": "%s", "balance": %s}' % (user.encode(), str(uuid.uuid4()).encode(), number)
    resp = await app_client.post("/automated-patron-blocks/handlers/fee-fine-balance-changed", data=raw, headers=h)
    assert resp.status == 400 and resp.content_type == "text/plain"
    text = await resp.text()
    if number.lstrip(b"-")[:1].isdigit():
        assert text.startswith(f"Number {number[:40].decode()}") and "is out of range" in text, text
    else:
        assert text == f"Malformed JSON: {number.decode()} is not valid JSON", text
    assert len(text) < 200  # the 400-digit number is quoted cut short
    assert (await app_client.get(f"/user-summary/{user}", headers=h)).status == 404


async def test_json_that_is_not_an_object_is_422(app_client, tenant):
    resp = await app_client.post(PATH, json=[1, 2], headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 422


async def test_deeply_nested_json_is_rejected_cleanly(app_client, tenant):
    raw = b"[" * 100_000 + b"]" * 100_000
    resp = await app_client.post(PATH, data=raw, headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json"})
    assert resp.status == 400
    assert "nested too deeply" in await resp.text()


async def test_oversized_body_is_413(app_client, tenant):
    record = condition(message="m" * 2_000_000)
    resp = await app_client.post(PATH, json=record, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 413


async def test_paging(app_client, fresh_tenant):
    h = {"X-Okapi-Tenant": fresh_tenant}
    for i in range(7):
        assert (await app_client.post(PATH, json=condition(name=f"page {i}"), headers=h)).status == 201
    body = await (await app_client.get(PATH, headers=h)).json()
    assert body["totalRecords"] == 7 and len(body["patronBlockConditions"]) == 7
    body = await (await app_client.get(PATH, params={"limit": "3", "offset": "0"}, headers=h)).json()
    assert body["totalRecords"] == 7 and len(body["patronBlockConditions"]) == 3
    body = await (await app_client.get(PATH, params={"limit": "3", "offset": "6"}, headers=h)).json()
    assert body["totalRecords"] == 7 and len(body["patronBlockConditions"]) == 1
    body = await (await app_client.get(PATH, params={"limit": "0"}, headers=h)).json()
    assert body["totalRecords"] == 7 and body["patronBlockConditions"] == []
    body = await (await app_client.get(PATH, params={"offset": "50"}, headers=h)).json()
    assert body["totalRecords"] == 7 and body["patronBlockConditions"] == []


async def test_limit_defaults_to_ten(app_client, fresh_tenant):
    h = {"X-Okapi-Tenant": fresh_tenant}
    for i in range(12):
        await app_client.post(PATH, json=condition(name=f"d{i}"), headers=h)
    body = await (await app_client.get(PATH, headers=h)).json()
    assert len(body["patronBlockConditions"]) == 10
    assert body["totalRecords"] == 12


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "2147483648"}, "limit"),
        ({"offset": "-5"}, "offset"),
        ({"offset": "1.5"}, "offset"),
        ({"lang": "english"}, "lang"),
        ({"lang": "e1"}, "lang"),
    ],
)
async def test_bad_query_parameters_are_400_naming_the_parameter(app_client, tenant, params, name):
    resp = await app_client.get(PATH, params=params, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 400
    assert resp.content_type == "text/plain"
    assert f"'{name}'" in await resp.text()


async def test_largest_limit_is_accepted(app_client, tenant):
    resp = await app_client.get(
        PATH, params={"limit": "2147483647", "offset": "2147483647"}, headers={"X-Okapi-Tenant": tenant}
    )
    assert resp.status == 200
    assert (await resp.json())["patronBlockConditions"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", PATH),
        ("POST", PATH),
        ("GET", f"{PATH}/{uuid.uuid4()}"),
        ("PUT", f"{PATH}/{uuid.uuid4()}"),
        ("DELETE", f"{PATH}/{uuid.uuid4()}"),
    ],
)
async def test_missing_tenant_header_is_400(app_client, method, path):
    resp = await app_client.request(method, path, json=condition())
    assert resp.status == 400
    assert resp.content_type == "text/plain"
    assert "X-Okapi-Tenant" in await resp.text()


@pytest.mark.parametrize("name", ["Diku", "1abc", "a-b", "x'; drop schema public;--", "a" * 32, "pg_catalog", "é"])
async def test_hostile_tenant_names_are_400(app_client, name):
    resp = await app_client.get(PATH, headers={"X-Okapi-Tenant": name})
    assert resp.status == 400
    assert "Invalid tenant" in await resp.text()


async def test_uninitialised_tenant_is_400_with_a_clear_message(app_client):
    for method in ("GET", "POST"):
        resp = await app_client.request(method, PATH, json=condition(), headers={"X-Okapi-Tenant": "neverseen"})
        assert resp.status == 400
        assert "not initialised" in await resp.text()


async def test_request_id_is_echoed(app_client, tenant):
    resp = await app_client.get(PATH, headers={"X-Okapi-Tenant": tenant, "X-Okapi-Request-Id": "123456/pbc"})
    assert resp.headers["X-Okapi-Request-Id"] == "123456/pbc"
    resp = await app_client.get(PATH, headers={"X-Okapi-Tenant": tenant})
    assert resp.headers["X-Okapi-Request-Id"]


async def test_optimistic_locking_refuses_a_stale_version(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    created = await (await app_client.post(PATH, json=condition(name="v1"), headers=h)).json()
    assert created["_version"] == 1
    item = f"{PATH}/{created['id']}"
    assert (await app_client.put(item, json=condition(name="v2", _version=1), headers=h)).status == 204
    stored = await (await app_client.get(item, headers=h)).json()
    assert stored["_version"] == 2 and stored["name"] == "v2"
    for stale in (1, 7):
        resp = await app_client.put(item, json=condition(name="lost update", _version=stale), headers=h)
        assert resp.status == 409
        assert "Stored _version is 2" in await resp.text()
    assert (await (await app_client.get(item, headers=h)).json())["name"] == "v2"


async def test_a_put_without_version_replaces_the_record_as_the_v0_1_api_has_it(app_client, tenant):
    # The patron-block-conditions API (v0.1) has no _version: a client written to it is not refused.
    h = {"X-Okapi-Tenant": tenant}
    created = await (await app_client.post(PATH, json=condition(name="v1"), headers=h)).json()
    item = f"{PATH}/{created['id']}"
    assert (await app_client.put(item, json=condition(name="v2", _version=1), headers=h)).status == 204
    resp = await app_client.put(item, json=condition(name="plain v0.1 client"), headers=h)
    assert resp.status == 204, await resp.text()
    stored = await (await app_client.get(item, headers=h)).json()
    assert stored["name"] == "plain v0.1 client" and stored["_version"] == 3
    # ... and a client that does send the version it read is still protected against a lost update
    assert (await app_client.put(item, json=condition(name="stale", _version=2), headers=h)).status == 409


async def test_concurrent_updates_with_the_same_version_let_exactly_one_win(app_client, tenant):
    import asyncio

    h = {"X-Okapi-Tenant": tenant}
    created = await (await app_client.post(PATH, json=condition(name="race"), headers=h)).json()
    item = f"{PATH}/{created['id']}"
    puts = [app_client.put(item, json=condition(name=f"writer {i}", _version=1), headers=h) for i in range(8)]
    statuses = sorted(r.status for r in await asyncio.gather(*puts))
    assert statuses == [204] + [409] * 7
    assert (await (await app_client.get(item, headers=h)).json())["_version"] == 2


async def test_concurrent_creates_with_the_same_id_let_exactly_one_win(app_client, tenant):
    import asyncio

    h = {"X-Okapi-Tenant": tenant}
    rid = str(uuid.uuid4())
    posts = [app_client.post(PATH, json=condition(id=rid, name=f"creator {i}"), headers=h) for i in range(8)]
    statuses = sorted(r.status for r in await asyncio.gather(*posts))
    assert statuses == [201] + [422] * 7


@pytest.mark.parametrize("body", [{"name": "a\x00b"}, {"name\x00": "x"}, [{"x": ["\x00"]}]])
async def test_a_body_with_a_nul_character_is_400_not_a_storage_failure(app_client, tenant, body):
    # PostgreSQL cannot store \u0000 in jsonb or text; the tenant API's body is refused the same way.
    resp = await app_client.post(PATH, json=body, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 400
    assert "\\u0000" in await resp.text()
    resp = await app_client.post("/_/tenant", json={"module_to": "\x00"}, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 400


async def test_an_escaped_backslash_before_u0000_is_just_text(app_client, tenant):
    resp = await app_client.post(PATH, json=condition(name="a\\u0000b"), headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 201
    assert (await resp.json())["name"] == "a\\u0000b"


@pytest.mark.parametrize("version", [100000000000000000000, -1, 2147483648])
async def test_an_out_of_range_version_is_422_not_500(app_client, tenant, version):
    h = {"X-Okapi-Tenant": tenant}
    created = await (await app_client.post(PATH, json=condition(), headers=h)).json()
    resp = await app_client.put(f"{PATH}/{created['id']}", json=condition(_version=version), headers=h)
    assert resp.status == 422
    assert errors_by_key(await resp.json())["_version"]["code"].startswith("jsonSchema.")


@pytest.mark.parametrize("raw", [b'"x\\ud800y"', b'"\\uDC00"', b'"a\\u0000b"'])
async def test_unstorable_characters_are_400_not_500(app_client, tenant, raw):
    body = (
        b'{"name": ' + raw + b', "blockBorrowing": false, "blockRenewals": false, "blockRequests": false,'
        b' "valueType": "Integer"}'
    )
    resp = await app_client.post(
        PATH, data=body, headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert "cannot be stored" in await resp.text()


async def test_a_paired_surrogate_escape_is_just_an_emoji(app_client, tenant):
    body = (
        b'{"name": "smile \\ud83d\\ude00", "blockBorrowing": false, "blockRenewals": false,'
        b' "blockRequests": false, "valueType": "Integer"}'
    )
    resp = await app_client.post(
        PATH, data=body, headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json"}
    )
    assert resp.status == 201
    assert (await resp.json())["name"] == "smile \U0001f600"
