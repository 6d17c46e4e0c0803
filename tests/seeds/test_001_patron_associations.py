"""The seed document of Polaris-style patron associations (``001_a63cb890290b34b1.txt``), table by table:
every call is in the RAML with its parameters, permissions and codes; the form data examples and the
example answers are in the schemas; the document's example bodies, sent as written, work, and its failures
answer its texts.

Where the document contradicts itself (docs/polaris.md): DELETE's parameter table swaps the descriptions of
``id`` and ``associationid`` and types the comma-separated list "Integer" (the path segment is a string of
ids here); its "Invalid PatronID." is the blocks document's "Invalid Patron ID.".
"""

from __future__ import annotations

import copy

import pytest

from tests.polaris.support import SECURED_PATRON, UNKNOWN, admin_headers, headers, new_patron, url
from tests.seeds.contract import (
    SCHEMAS,
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
from tests.seeds.documents import ASSOCIATIONS, Call, polaris_calls

CALLS = polaris_calls(ASSOCIATIONS)
PARAMETERS = {"id": "patronId", "associationid": "linkedPatronIds"}
PARAMETER_TYPES = {"associationid": "string"}  # a comma-separated list in one path segment
TEXTS = {"Invalid PatronID.": "Invalid Patron ID."}
# The patrons the examples name: the POST example's and the PUT example's linked patrons.
EXAMPLE_PATRONS = (189172, 189171, 18234, 16224)


def test_the_document_lists_the_four_calls():
    assert [(c.method, c.path) for c in CALLS] == [
        ("GET", "patrons/{id}/associations"),
        ("POST", "patrons/{id}/associations"),
        ("PUT", "patrons/{id}/associations"),
        ("DELETE", "patrons/{id}/associations/{associationid},{associationid},{associationid}"),
    ]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.method)
def test_each_call_is_in_the_raml_with_its_parameters_permissions_and_codes(call: Call):
    end = endpoint(call.method, call.path)
    for row in call.params:
        param = end.uri_params[PARAMETERS[row.name]]
        assert param.type == PARAMETER_TYPES.get(row.name, SEED_TYPES[row.type]) and row.required == "Yes", row
    assert call.permissions
    for permission in call.permissions:
        assert permission in end.description, permission
    for status, line in call.codes.items():
        assert status in end.responses, (status, line)
        text = line.split(". ", 1)[1] if ". " in line else ""
        if status >= 400 and text:
            assert raml_example_message(end, status) == TEXTS.get(text, text), (status, line)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.method)
def test_form_data_and_example_answers_are_in_the_schemas(call: Call):
    end = endpoint(call.method, call.path)
    if call.form:
        [row] = call.form
        rel = body_schema(end)
        assert SEED_TYPES[row.type] in types_of(SCHEMAS.document(rel)), row
        items = properties(rel)
        for entry in call.request_example:
            for name, value in entry.items():
                assert fits(json_type(value), types_of(items[name])), (name, value)
    if call.response_example:
        items = properties(answer_schema(end))
        for entry in call.response_example:
            for name, value in entry.items():
                assert name in items, name
                assert fits(json_type(value), types_of(items[name])), (name, value)


async def _example_patrons(client, tenant) -> int:
    """The example's linked patrons (by their PatronIDs, through the configuration API) and the patron whose
    associations the examples change; returns that patron."""
    for patron_id in EXAMPLE_PATRONS:
        record = {
            "PatronID": patron_id,
            "Barcode": f"1000{patron_id}",
            "OrganizationID": 3,
            "Registration": {"NameFirst": "Miriam", "NameLast": f"Roman{patron_id}"},
        }
        resp = await client.post("/polaris/patrons", json=record, headers=admin_headers(tenant))
        assert resp.status == 201, await resp.text()
    return await new_patron(client, tenant)


def _assert_documented_fields(call: Call, answer: list) -> None:
    documented = {name: json_type(value) for entry in call.response_example for name, value in entry.items()}
    for entry in answer:
        for name, kind in documented.items():
            # The examples' Note is null; a note is a string.
            assert name in entry and json_type(entry[name]) in {kind, "string" if name == "Note" else kind}, entry


async def test_the_documents_example_bodies_work_as_written(app_client, fresh_sample_tenant):
    """POST the document's Form Data Example, then (with the two other associations its PUT example changes)
    PUT its example, and DELETE with its comma-separated path; each answer is the list in the shape of the
    document's example answers."""
    tenant, h = fresh_sample_tenant, headers(fresh_sample_tenant)
    patron = await _example_patrons(app_client, tenant)
    get, post, put, delete = CALLS
    assert delete.path.endswith("{associationid},{associationid},{associationid}")  # the comma list below
    resp = await app_client.post(
        url(f"/patrons/{patron}/associations"), json=copy.deepcopy(post.request_example), headers=h
    )
    listed = await resp.json()
    assert resp.status == 200, listed
    _assert_documented_fields(post, listed)
    assert {(a["LinkedPatronID"], a["Note"], a["BlockMe"]) for a in listed} == {
        (189172, "Stepson", False),
        (189171, "Stepdaughter", False),
    }
    others = [{"LinkedPatronId": 18234}, {"LinkedPatronId": 16224}]
    assert (await app_client.post(url(f"/patrons/{patron}/associations"), json=others, headers=h)).status == 200
    resp = await app_client.put(
        url(f"/patrons/{patron}/associations"), json=copy.deepcopy(put.request_example), headers=h
    )
    listed = await resp.json()
    assert resp.status == 200, listed
    _assert_documented_fields(put, listed)  # with RecordStatusID, as the PUT example answer has it
    changed = {a["LinkedPatronID"]: (a["Note"], a["BlockMe"]) for a in listed}
    assert changed == {
        18234: ("Uncle", False),
        189171: ("Stepson", False),
        16224: ("", True),
        189172: ("Stepson", False),
    }
    _assert_documented_fields(
        get, await (await app_client.get(url(f"/patrons/{patron}/associations"), headers=h)).json()
    )
    resp = await app_client.delete(url(f"/patrons/{patron}/associations/18234,189171,16224"), headers=h)
    assert resp.status == 200 and [a["LinkedPatronID"] for a in await resp.json()] == [189172]


async def _failure(client, tenant, method: str, patron: int, body=None, linked: str = "") -> tuple[int, str]:
    path = url(f"/patrons/{patron}/associations" + (f"/{linked}" if linked else ""))
    raw = b"null" if body == "null" else None
    kwargs = {"data": raw} if raw is not None else ({"json": body} if body is not None else {})
    resp = await client.request(method, path, headers={**headers(tenant), "Content-Type": "application/json"}, **kwargs)
    return resp.status, (await resp.json())["Message"]


async def test_the_documented_failures_answer_the_documented_texts(app_client, sample_tenant):
    """Every code line with a text and every bullet of the failure tables, provoked on its call."""
    a, b, c = [await new_patron(app_client, sample_tenant) for _ in range(3)]
    await app_client.post(
        url(f"/patrons/{a}/associations"), json=[{"LinkedPatronId": b}], headers=headers(sample_tenant)
    )
    bodies = {"POST": [{"LinkedPatronId": c}], "PUT": [{"LinkedPatronId": b, "Note": "x"}], "DELETE": None}
    provoke = {
        "DtoPatronAssociationInfo list is null": lambda m: _failure(app_client, sample_tenant, m, a, "null"),
        "DtoPatronAssociationInfo is null": lambda m: _failure(app_client, sample_tenant, m, a, "null"),
        "Invalid linked patronID": lambda m: _failure(
            app_client,
            sample_tenant,
            m,
            a,
            [{"LinkedPatronId": UNKNOWN}] if m != "DELETE" else None,
            str(UNKNOWN) if m == "DELETE" else "",
        ),
        "Associated patron record already exists with id": lambda m: _failure(
            app_client, sample_tenant, m, a, [{"LinkedPatronId": b}]
        ),
        "Associated patron record does not exist": lambda m: _failure(
            app_client,
            sample_tenant,
            m,
            a,
            [{"LinkedPatronId": c}] if m != "DELETE" else None,
            str(c) if m == "DELETE" else "",
        ),
    }
    checked = 0
    for call in CALLS:
        linked = str(b) if call.method == "DELETE" else ""
        for status, line in call.codes.items():
            text = line.split(". ", 1)[1] if ". " in line else ""
            if status < 400 or not text:
                continue
            patron = UNKNOWN if status == 404 else SECURED_PATRON
            got = await _failure(app_client, sample_tenant, call.method, patron, bodies[call.method], linked)
            assert got == (status, TEXTS.get(text, text)), (call.method, status, got)
            checked += 1
        for bullet in call.bullets:
            status, message = await provoke[bullet](call.method)
            assert status == 400 and message.startswith(bullet), (call.method, bullet, message)
            checked += 1
    documented = sum(
        len([s for s, line in c.codes.items() if s >= 400 and ". " in line]) + len(c.bullets) for c in CALLS
    )
    assert checked == documented == 14
