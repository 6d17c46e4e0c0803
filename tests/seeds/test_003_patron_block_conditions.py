"""The seed document of FOLIO's patron-block-conditions API v0.1 (``003_40de50eb742a05a1.txt``), the RAML
console page of mod-users: every method is in the RAML with its query and URI parameters (types, defaults,
bounds, patterns), its responses (media types, the Location header), the schemas are the document's (fields,
types, enum, required), its examples are valid, and live answers follow it.

Departures, each said in docs/polaris.md: "id" is required by the document's schema but the same document's
201 says the server populates it (it is optional here, as in FOLIO's mod-users); the 401 answers come from
Okapi, which authenticates before a call reaches the module, so the module's RAML does not list them; the
document writes the 500 text both "Internal server error, contact administrator" and "internal server
error, ..." (the capitalised one is answered).
"""

from __future__ import annotations

import copy

import pytest

from tests.seeds.contract import CONTRACT, SCHEMAS, types_of
from tests.seeds.documents import FolioMethod, folio_methods

METHODS = folio_methods()
ITEM, COLLECTION = "patron-block-condition.json", "patron-block-conditions.json"
NOT_ANSWERED_BY_THE_MODULE = {401}  # Okapi's
ID_SERVER_POPULATED = {"id"}
NUMERIC = ("default", "minimum", "maximum")


def test_the_document_lists_the_five_methods():
    assert [(m.method, m.path) for m in METHODS] == [
        ("GET", "/patron-block-conditions"),
        ("POST", "/patron-block-conditions"),
        ("PUT", "/patron-block-conditions/{patronBlockConditionId}"),
        ("GET", "/patron-block-conditions/{patronBlockConditionId}"),
        ("DELETE", "/patron-block-conditions/{patronBlockConditionId}"),
    ]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: f"{m.method} {m.path}")
def test_each_method_is_in_the_raml_with_its_parameters_and_responses(method: FolioMethod):
    end = CONTRACT.endpoint(method.method, method.path)
    for params, declared in ((method.query, end.query_params), (method.uri, end.uri_params)):
        for name, spec in params.items():
            param = declared[name]
            assert param.type == spec["type"] and param.required == (spec["required"] == "yes"), (name, param)
            for key in NUMERIC:
                if key in spec:
                    expected = int(spec[key]) if spec["type"] == "integer" else spec[key]
                    assert getattr(param, key) == expected, (name, key)
            assert param.pattern == spec.get("pattern"), name
    for status, response in method.responses.items():
        if status in NOT_ANSWERED_BY_THE_MODULE:
            continue
        declared = end.responses[status]
        assert ([response.media_type] if response.media_type else []) == sorted(declared.bodies), status
        assert set(response.headers) == {h.name for h in declared.headers}, status
    if method.body_schema is not None:
        assert CONTRACT.schema_key(end.json_body) == ITEM


def _document_schemas() -> dict[str, dict]:
    """The document's item schema (the body of POST and PUT, the answer of GET) and collection schema."""
    get_list, post, put, get = METHODS[0], METHODS[1], METHODS[2], METHODS[3]
    assert post.body_schema == put.body_schema == get.responses[200].schema
    return {ITEM: post.body_schema, COLLECTION: get_list.responses[200].schema}


@pytest.mark.parametrize("rel", [ITEM, COLLECTION])
def test_the_schemas_are_the_documents(rel):
    document, ours = _document_schemas()[rel], SCHEMAS.document(rel)
    assert ours["type"] == document["type"]
    for name, prop in document["properties"].items():
        mine = ours["properties"][name]
        if "$ref" in prop and "$ref" in mine:
            assert mine["$ref"].rsplit("/", 1)[-1] == prop["$ref"].rsplit("/", 1)[-1], name
        else:
            assert types_of(mine) == types_of(prop), name
        assert mine.get("enum") == prop.get("enum"), name
    assert set(ours["required"]) == set(document["required"]) - ID_SERVER_POPULATED


def test_the_documents_examples_are_valid():
    examples = [m.body_example for m in METHODS if m.body_example is not None]
    examples += [r.example for m in METHODS for r in m.responses.values() if isinstance(r.example, dict)]
    checked = 0
    for example in examples:
        if "errors" in example:
            assert SCHEMAS.errors("raml-util/schemas/errors.schema", example) == []
        elif "patronBlockConditions" in example:
            assert SCHEMAS.errors(COLLECTION, example) == []
        else:
            assert SCHEMAS.errors(ITEM, example) == []
        checked += 1
    assert checked == 7  # POST and PUT bodies, 200 (list, item), 201, 422 (POST, PUT)


async def test_the_documents_examples_work_live(app_client, fresh_tenant):
    """On a tenant without reference data: the POST example as written is created (201, Location), read back,
    listed, replaced by the PUT example, and deleted; then it is not found, with the document's text."""
    h = {"X-Okapi-Tenant": fresh_tenant}
    get_list, post, put, get, delete = METHODS
    body = copy.deepcopy(post.body_example)
    resp = await app_client.post(get_list.path, json=body, headers=h)
    assert resp.status == 201, await resp.text()
    assert resp.headers["Location"].endswith(f"/patron-block-conditions/{body['id']}")
    item = f"{get_list.path}/{body['id']}"
    read = await (await app_client.get(item, headers=h)).json()
    assert {k: read[k] for k in body} == body
    listed = await (await app_client.get(get_list.path, params={"query": "cql.allRecords=1"}, headers=h)).json()
    assert listed["totalRecords"] == 1 and SCHEMAS.errors(COLLECTION, listed) == []
    resp = await app_client.put(item, json=copy.deepcopy(put.body_example), headers=h)
    assert resp.status == 204, await resp.text()
    resp = await app_client.get(get_list.path, params={"query": "name=="}, headers=h)
    assert resp.status == 400 and resp.content_type == "text/plain"
    resp = await app_client.post(get_list.path, json={**body, "id": None}, headers=h)
    errors = await resp.json()
    assert resp.status == 422 and SCHEMAS.errors("raml-util/schemas/errors.schema", errors) == []
    assert (await app_client.delete(item, headers=h)).status == 204
    resp = await app_client.get(item, headers=h)
    not_found = get.responses[404].example.strip('"')
    assert resp.status == 404 and (await resp.text()).startswith(not_found), not_found
    assert delete.responses[404].example.strip('"') == not_found
