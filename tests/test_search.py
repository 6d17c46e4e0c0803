"""CQL through HTTP: ?query= on /patron-block-conditions, with sortby, paging and totalRecords."""

from __future__ import annotations

import uuid

import pytest

PATH = "/patron-block-conditions"


@pytest.fixture
async def library(app_client, fresh_tenant):
    """A tenant with a handful of conditions whose names and flags the tests below search for."""
    h = {"X-Okapi-Tenant": fresh_tenant}
    names = ["Maximum overdue recalls", "Maximum lost items", "Minimum age", "Maximum fines (Café)", "Lost and found"]
    for i, name in enumerate(names):
        record = {
            "name": name,
            "blockBorrowing": i % 2 == 0,
            "blockRenewals": False,
            "blockRequests": False,
            "valueType": "Double" if "fines" in name else "Integer",
            "message": "Blocked" if i % 2 == 0 else "",
        }
        assert (await app_client.post(PATH, json=record, headers=h)).status == 201
    return app_client, h


async def _names(client, h, query, **params):
    resp = await client.get(PATH, params={"query": query, **params}, headers=h)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return [c["name"] for c in body["patronBlockConditions"]], body["totalRecords"]


async def test_exact_prefix_word_and_boolean_searches(library):
    client, h = library
    assert (await _names(client, h, 'name=="Minimum age"'))[0] == ["Minimum age"]
    names, total = await _names(client, h, 'name=="maximum*" sortby name')
    assert names == ["Maximum fines (Café)", "Maximum lost items", "Maximum overdue recalls"] and total == 3
    assert sorted((await _names(client, h, "name=lost"))[0]) == ["Lost and found", "Maximum lost items"]
    assert (await _names(client, h, "name=cafe"))[0] == ["Maximum fines (Café)"]  # accents folded
    assert len((await _names(client, h, "blockBorrowing==true"))[0]) == 3
    assert (await _names(client, h, "valueType==Double and name=fines"))[0] == ["Maximum fines (Café)"]
    assert sorted((await _names(client, h, "lost not name==Lost*"))[0]) == ["Maximum lost items"]


async def test_sortby_descending_and_paging_with_totals(library):
    client, h = library
    names, total = await _names(client, h, "cql.allRecords=1 sortby name/sort.descending", limit="2", offset="1")
    assert names == ["Maximum overdue recalls", "Maximum lost items"] and total == 5


async def test_by_id(library):
    client, h = library
    one = (await (await client.get(PATH, params={"limit": "1"}, headers=h)).json())["patronBlockConditions"][0]
    assert (await _names(client, h, f"id=={one['id']}"))[0] == [one["name"]]
    assert (await _names(client, h, f"id=={uuid.uuid4()}")) == ([], 0)


@pytest.mark.parametrize(
    ("query", "column"),
    [
        ("name==", 7),
        ("name=abc and", 13),
        ("(name=abc", 10),
        ('name="unterminated', 6),
        ("name=abc prox name=def", 10),
        ("or name=abc", 1),
        ("name=abc sortby name sortby name", 22),
        # at most 10 sort keys: the 11th is refused (1100 of them kept the database busy for 30 s)
        ("cql.allRecords=1 sortby " + " ".join(f"f{n:02d}" for n in range(1100)), 25 + 10 * 4),
    ],
)
async def test_malformed_cql_is_400_naming_the_problem_and_its_position(library, query, column):
    client, h = library
    resp = await client.get(PATH, params={"query": query}, headers=h)
    assert resp.status == 400
    assert resp.content_type == "text/plain"
    text = await resp.text()
    assert text.startswith("unable to list patron-block-conditions -- malformed parameter 'query', ")
    assert f"column {column}" in text


async def test_a_query_that_cannot_be_answered_is_400_not_500(library):
    client, h = library
    for query in ("name=/number abc", "name=^abc", "a;b=1", "x" * 5000 + "=1"):
        resp = await client.get(PATH, params={"query": query}, headers=h)
        assert resp.status in (200, 400), (query[:20], resp.status)
