"""The contract checker's judgement of single answers (its runs against an instance are in
test_contract_coverage.py)."""

from __future__ import annotations

import json

from mod_users.config import PROJECT_ROOT
from mod_users.contract import load_contract
from mod_users.contract.checker import response_problems

CONTRACT = load_contract(PROJECT_ROOT / "ramls", PROJECT_ROOT / "schemas")
RID = "5f8a3c62-1d2b-4d1e-9c1f-6f0a3d2b1c0e"
CREATED = json.dumps(
    {
        "id": RID,
        "name": "n",
        "blockBorrowing": False,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
    }
).encode()
JSON = {"Content-Type": "application/json; charset=utf-8"}


def _post_problems(headers, body=CREATED):
    endpoint = CONTRACT.endpoint("POST", "/patron-block-conditions")
    return response_problems(CONTRACT, endpoint, 201, {**JSON, **headers}, body)


def test_a_created_record_with_its_location_conforms():
    assert _post_problems({"Location": f"/patron-block-conditions/{RID}"}) == []
    assert _post_problems({"location": f"http://okapi:9130/patron-block-conditions/{RID}"}) == []


def test_a_declared_location_that_is_missing_is_reported():
    assert _post_problems({}) == ["header Location is declared for 201 but missing"]


def test_a_location_that_does_not_name_the_created_record_is_reported():
    other = "00000000-0000-4000-8000-000000000000"
    assert _post_problems({"Location": f"/patron-block-conditions/{other}"}) == [
        f"Location '/patron-block-conditions/{other}' does not name the created record {RID}"
    ]
    assert _post_problems({"Location": f"/nowhere/{RID}"}) == [
        f"Location '/nowhere/{RID}' is not a path the contract serves with GET"
    ]


def test_the_tenant_jobs_location_is_checked_too():
    endpoint = CONTRACT.endpoint("POST", "/_/tenant")
    job = json.dumps(
        {"id": RID, "tenant": "diku", "tenantAttributes": {"module_to": "mod-users-0.1.0"}, "complete": False}
    ).encode()
    assert response_problems(CONTRACT, endpoint, 201, {**JSON, "Location": f"/_/tenant/{RID}"}, job) == []
    assert response_problems(CONTRACT, endpoint, 201, JSON, job) == ["header Location is declared for 201 but missing"]


def test_status_media_type_and_schema_are_still_checked():
    endpoint = CONTRACT.endpoint("POST", "/patron-block-conditions")
    location = {"Location": f"/patron-block-conditions/{RID}"}
    assert "not documented" in response_problems(CONTRACT, endpoint, 418, JSON, b"")[0]
    assert "media type 'text/html'" in _post_problems({**location, "Content-Type": "text/html"})[0]
    assert any("name" in p for p in _post_problems(location, json.dumps({"id": RID, "name": 1}).encode()))
