"""Walk the RAML: every documented status code of every route is provoked here, and the answer is
checked against the contract (status, media type, body schema).

A new route or status in the RAML without a provocation below fails ``test_every_documented_answer``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

import pytest

from mod_users.config import PROJECT_ROOT
from mod_users.contract import load_contract
from mod_users.contract.checker import response_problems
from mod_users.contract.probe import TenantNotUsable, check_instance
from mod_users.resources.polaris import LISTENER_ROUTES
from mod_users.storage import jobs
from mod_users.storage.records import RecordStore
from tests.automated_blocks.provocations import PROVOKE as AUTOMATED_BLOCKS_PROVOKE
from tests.conftest import unique_tenant
from tests.faults import injected_failure
from tests.polaris.listener_provocations import LISTENER_PROVOKE
from tests.polaris.provocations import PROVOKE as POLARIS_PROVOKE

CONTRACT = load_contract(PROJECT_ROOT / "ramls", PROJECT_ROOT / "schemas")
PBC = "/patron-block-conditions"
ITEM = PBC + "/{patronBlockConditionId}"
JOB = "/_/tenant/{operationId}"


def _condition(**extra):
    return {
        "name": f"c-{uuid.uuid4().hex[:6]}",
        "blockBorrowing": False,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
        **extra,
    }


async def _created(client, tenant):
    resp = await client.post(PBC, json=_condition(), headers={"X-Okapi-Tenant": tenant})
    return (await resp.json())["id"]


def _broken(monkeypatch, target, name):
    monkeypatch.setattr(target, name, injected_failure)


async def _job(client, tenant):
    resp = await client.post("/_/tenant", json={"module_to": "mod-users-0.1.0"}, headers={"X-Okapi-Tenant": tenant})
    job = await resp.json()
    await client.get(f"/_/tenant/{job['id']}", params={"wait": "30000"}, headers={"X-Okapi-Tenant": tenant})
    return job["id"]


Provocation = Callable[..., Awaitable]
H = "X-Okapi-Tenant"

PROVOKE: dict[tuple[str, str, int], Provocation] = {
    ("GET", PBC, 200): lambda c, t, mp: c.get(PBC, headers={H: t}),
    ("GET", PBC, 400): lambda c, t, mp: c.get(PBC, params={"limit": "x"}, headers={H: t}),
    ("POST", PBC, 201): lambda c, t, mp: c.post(PBC, json=_condition(), headers={H: t}),
    ("POST", PBC, 400): lambda c, t, mp: c.post(PBC, data=b"{", headers={H: t}),
    ("POST", PBC, 413): lambda c, t, mp: c.post(PBC, json=_condition(message="m" * 2_000_000), headers={H: t}),
    ("POST", PBC, 422): lambda c, t, mp: c.post(PBC, json={"name": 1}, headers={H: t}),
}


async def _get_item(c, t, mp):
    return await c.get(f"{PBC}/{await _created(c, t)}", headers={H: t})


async def _put_item(c, t, mp):
    rid = await _created(c, t)
    return await c.put(f"{PBC}/{rid}", json=_condition(id=rid, _version=1), headers={H: t})


async def _put_stale(c, t, mp):
    rid = await _created(c, t)
    await c.put(f"{PBC}/{rid}", json=_condition(id=rid, _version=1), headers={H: t})
    return await c.put(f"{PBC}/{rid}", json=_condition(id=rid, _version=1), headers={H: t})


async def _delete_item(c, t, mp):
    return await c.delete(f"{PBC}/{await _created(c, t)}", headers={H: t})


async def _fail_search(c, t, mp):
    _broken(mp, RecordStore, "open_page")
    return await c.get(PBC, headers={H: t})


async def _fail_insert(c, t, mp):
    _broken(mp, RecordStore, "insert")
    return await c.post(PBC, json=_condition(), headers={H: t})


async def _fail_get(c, t, mp):
    _broken(mp, RecordStore, "get")
    return await c.get(f"{PBC}/{uuid.uuid4()}", headers={H: t})


async def _fail_update(c, t, mp):
    _broken(mp, RecordStore, "update")
    return await c.put(f"{PBC}/{uuid.uuid4()}", json=_condition(), headers={H: t})


async def _fail_delete(c, t, mp):
    _broken(mp, RecordStore, "delete")
    _broken(mp, RecordStore, "get")  # a delete with checks reads the record first
    return await c.delete(f"{PBC}/{uuid.uuid4()}", headers={H: t})


async def _job_get(c, t, mp):
    return await c.get(f"/_/tenant/{await _job(c, t)}", headers={H: t})


async def _job_delete(c, t, mp):
    return await c.delete(f"/_/tenant/{await _job(c, t)}", headers={H: t})


async def _fail_job_create(c, t, mp):
    _broken(mp, jobs, "create_job")
    return await c.post("/_/tenant", json={"module_to": "mod-users-0.1.0"}, headers={H: t})


async def _fail_job_get(c, t, mp):
    _broken(mp, jobs, "get_job")
    return await c.get(f"/_/tenant/{uuid.uuid4()}", headers={H: t})


async def _fail_job_delete(c, t, mp):
    _broken(mp, jobs, "delete_job")
    return await c.delete(f"/_/tenant/{uuid.uuid4()}", headers={H: t})


PROVOKE.update(
    {
        ("GET", PBC, 500): _fail_search,
        ("POST", PBC, 500): _fail_insert,
        ("GET", ITEM, 200): _get_item,
        ("GET", ITEM, 400): lambda c, t, mp: c.get(f"{PBC}/{uuid.uuid4()}", params={"lang": "xyz"}, headers={H: t}),
        ("GET", ITEM, 404): lambda c, t, mp: c.get(f"{PBC}/{uuid.uuid4()}", headers={H: t}),
        ("GET", ITEM, 500): _fail_get,
        ("PUT", ITEM, 204): _put_item,
        ("PUT", ITEM, 400): lambda c, t, mp: c.put(f"{PBC}/{uuid.uuid4()}", data=b"[", headers={H: t}),
        ("PUT", ITEM, 409): _put_stale,
        ("PUT", ITEM, 404): lambda c, t, mp: c.put(f"{PBC}/{uuid.uuid4()}", json=_condition(), headers={H: t}),
        ("PUT", ITEM, 413): lambda c, t, mp: c.put(
            f"{PBC}/{uuid.uuid4()}", json=_condition(message="m" * 2_000_000), headers={H: t}
        ),
        ("PUT", ITEM, 422): lambda c, t, mp: c.put(f"{PBC}/{uuid.uuid4()}", json={}, headers={H: t}),
        ("PUT", ITEM, 500): _fail_update,
        ("DELETE", ITEM, 204): _delete_item,
        ("DELETE", ITEM, 400): lambda c, t, mp: c.delete(f"{PBC}/{uuid.uuid4()}"),
        ("DELETE", ITEM, 404): lambda c, t, mp: c.delete(f"{PBC}/{uuid.uuid4()}", headers={H: t}),
        ("DELETE", ITEM, 500): _fail_delete,
        ("POST", "/_/tenant", 201): lambda c, t, mp: c.post(
            "/_/tenant", json={"module_to": "mod-users-0.1.0"}, headers={H: t}
        ),
        ("POST", "/_/tenant", 204): lambda c, t, mp: c.post(
            "/_/tenant", json={"module_from": "mod-users-0.1.0"}, headers={H: t}
        ),
        ("POST", "/_/tenant", 400): lambda c, t, mp: c.post("/_/tenant", json={"module_to": "mod-users-0.1.0"}),
        ("POST", "/_/tenant", 413): lambda c, t, mp: c.post(
            "/_/tenant", data=b"[" + b" " * 2_000_000 + b"]", headers={H: t}
        ),
        ("POST", "/_/tenant", 422): lambda c, t, mp: c.post("/_/tenant", json={"purge": "soon"}, headers={H: t}),
        ("POST", "/_/tenant", 500): _fail_job_create,
        ("GET", JOB, 200): _job_get,
        ("GET", JOB, 400): lambda c, t, mp: c.get("/_/tenant/not-a-uuid", headers={H: t}),
        ("GET", JOB, 404): lambda c, t, mp: c.get(f"/_/tenant/{uuid.uuid4()}", headers={H: t}),
        ("GET", JOB, 500): _fail_job_get,
        ("DELETE", JOB, 204): _job_delete,
        ("DELETE", JOB, 400): lambda c, t, mp: c.delete("/_/tenant/not-a-uuid", headers={H: t}),
        ("DELETE", JOB, 404): lambda c, t, mp: c.delete(f"/_/tenant/{uuid.uuid4()}", headers={H: t}),
        ("DELETE", JOB, 500): _fail_job_delete,
    }
)

PROVOKE.update(POLARIS_PROVOKE)
PROVOKE.update(AUTOMATED_BLOCKS_PROVOKE)


def _example_value(endpoint, name: str) -> str:
    param = endpoint.uri_params.get(name) or endpoint.query_params.get(name)
    if param is not None and param.example is not None:
        return str(param.example).lower() if isinstance(param.example, bool) else str(param.example)
    if param is not None and param.enum:
        return str(param.enum[0])
    return "1" if param is not None and param.type == "integer" else str(uuid.uuid4())


def _without_database(method: str, path: str) -> Provocation:
    """A well-formed call (the RAML's examples) to a service whose database is not there: a real outage,
    not an injected fault, for every documented 503."""

    async def provoke(c, t, mp):
        from aiohttp.test_utils import TestClient, TestServer

        from mod_users.app import init_app
        from mod_users.config import DatabaseSettings, load_settings
        from mod_users.storage.embedded import free_port
        from tests.conftest import contract_of
        from tests.polaris.support import headers as staff_headers

        endpoint = CONTRACT.endpoint(method, path)
        examples = endpoint.json_body.all_examples() if endpoint.json_body is not None else []
        url = _example_url(endpoint)
        query = {n: _example_value(endpoint, n) for n, p in endpoint.query_params.items() if p.required}
        settings = load_settings()
        gone = DatabaseSettings(host="127.0.0.1", port=free_port(), password="x")
        h = staff_headers(t) if path.startswith("/polaris.applicationservices/") else {H: t}
        async with TestClient(TestServer(init_app(settings, gone, contract_of(settings.contract_dir)))) as client:
            resp = await client.request(method, url, params=query, headers=h, json=examples[0] if examples else None)
            return _Answer(resp.status, resp.headers.copy(), await resp.read())

    return provoke


class _Answer:
    """What a response said, kept after its client (and connection) are gone."""

    def __init__(self, status, headers, body) -> None:
        self.status, self.headers, self._body = status, headers, body

    async def read(self) -> bytes:
        return self._body


def _example_url(endpoint) -> str:
    import re

    examples = endpoint.json_body.all_examples() if endpoint.json_body is not None else []
    url = re.sub(r"\{([^}]+)\}", lambda m: _example_value(endpoint, m.group(1)), endpoint.path)
    if examples and isinstance(examples[0], dict) and "id" in examples[0] and endpoint.path.endswith("}"):
        url = url.rsplit("/", 1)[0] + f"/{examples[0]['id']}"  # a PUT names the record its body is
    return url


def _stalled_body(method: str, path: str) -> Provocation:
    """The RAML's example body, of which only the first half ever arrives."""

    async def provoke(c, t, mp):
        from mod_users import routing
        from tests.polaris.support import headers as staff_headers

        mp.setattr(routing, "BODY_SECONDS", 0.3)
        endpoint = CONTRACT.endpoint(method, path)
        example = json.dumps(endpoint.json_body.all_examples()[0]).encode()

        async def half_then_nothing():
            yield example[: len(example) // 2]
            await asyncio.sleep(1)  # well past BODY_SECONDS

        h = staff_headers(t) if path.startswith("/polaris.applicationservices/") else {H: t}
        return await c.request(
            method, _example_url(endpoint), data=half_then_nothing(), headers={**h, "Content-Type": "application/json"}
        )

    return provoke


_DOCUMENTED_CODES = [(e.method, e.path, s) for e in CONTRACT.endpoints() for s in e.responses]
PROVOKE.update({(m, p, s): _without_database(m, p) for m, p, s in _DOCUMENTED_CODES if s == 503})
PROVOKE.update({(m, p, s): _stalled_body(m, p) for m, p, s in _DOCUMENTED_CODES if s == 408})
# What the Polaris listener brought, its own routes' 503s (on the listener) included.
PROVOKE.update(LISTENER_PROVOKE)

DOCUMENTED = sorted((e.method, e.path, status) for e in CONTRACT.endpoints() for status in e.responses)
# The business routes of the FOLIO port (the tenant API is Okapi's to call, not the contract checker's; the
# Polaris listener's own routes are not served there).
_LISTENER_ONLY = {(r.method, r.path) for r in LISTENER_ROUTES}
DOCUMENTED_ROUTES = sorted(
    {(m, p) for m, p, _ in DOCUMENTED if not p.startswith("/_/") and (m, p) not in _LISTENER_ONLY}
)
POLARIS_ROUTES = [(m, p) for m, p in DOCUMENTED_ROUTES if p.startswith("/polaris.applicationservices/")]


def test_no_provocation_for_an_undocumented_answer():
    assert set(PROVOKE) - set(DOCUMENTED) == set()


# The Polaris-style routes need the sample data, so they run in the session's sample tenant (their
# provocations change only records they create); everything else gets a tenant of its own.
POLARIS = [key for key in DOCUMENTED if key[1].startswith(("/polaris", "/PAPIService"))]
OTHERS = [key for key in DOCUMENTED if not key[1].startswith(("/polaris", "/PAPIService"))]


async def _check(client, tenant, monkeypatch, method, path, status):
    provoke = PROVOKE.get((method, path, status))
    assert provoke is not None, f"no test provokes {status} for {method} {path}"
    resp = await provoke(client, tenant, monkeypatch)
    body = await resp.read()
    assert resp.status == status, body[:500]
    endpoint = CONTRACT.endpoint(method, path)
    assert response_problems(CONTRACT, endpoint, resp.status, resp.headers, body) == []


@pytest.mark.parametrize(("method", "path", "status"), OTHERS, ids=[f"{m} {p} {s}" for m, p, s in OTHERS])
async def test_every_documented_answer(fresh_tenant, app_client, monkeypatch, method, path, status):
    # fresh_tenant comes first so that it is purged after the app (and any tenant job it started) has closed.
    await _check(app_client, fresh_tenant, monkeypatch, method, path, status)


@pytest.mark.parametrize(("method", "path", "status"), POLARIS, ids=[f"{m} {p} {s}" for m, p, s in POLARIS])
async def test_every_documented_polaris_answer(app_client, sample_tenant, monkeypatch, method, path, status):
    await _check(app_client, sample_tenant, monkeypatch, method, path, status)


async def test_contract_checker_passes_against_a_running_instance(app_client, fresh_tenant):
    report = await check_instance(str(app_client.make_url("")), fresh_tenant, CONTRACT)
    assert len(report.findings) >= 15
    assert report.broken == []
    assert {f.status for f in report.findings} >= {200, 201, 204, 400, 404}
    # Without sample data or permissions the Polaris-style routes cannot succeed, and the report says so.
    reached = {(r.method, r.path) for r in report.routes if r.success is not None}
    assert {("POST", PBC), ("GET", PBC), ("GET", ITEM), ("PUT", ITEM), ("DELETE", ITEM)} <= reached
    assert {r.path for r in report.unreached} >= {p for m, p in POLARIS_ROUTES}


async def test_contract_checker_refuses_a_tenant_that_is_not_usable(app_client):
    with pytest.raises(TenantNotUsable, match="not initialised"):
        await check_instance(str(app_client.make_url("")), unique_tenant("none"), CONTRACT)


async def test_contract_checker_reports_a_broken_answer(app_client, fresh_tenant, monkeypatch):
    import contextlib

    from mod_users.storage.records import PageReader

    @contextlib.asynccontextmanager
    async def corrupt(self, *args, **kwargs):
        async def total(read):
            return 1

        yield PageReader(['{"name": 42}'], None, total)

    monkeypatch.setattr(RecordStore, "open_page", corrupt)
    report = await check_instance(str(app_client.make_url("")), fresh_tenant, CONTRACT)
    broken = {(f.method, f.url, f.probe): f.problems for f in report.broken}
    # every collection listing answers the corrupted page; nothing else reads through open_page here
    assert set(broken) == {
        ("GET", path, probe)
        for path in (
            PBC,
            "/patron-block-limits",
            "/polaris/organizations",
            "/polaris/block-descriptions",
            "/polaris/workstations",
            "/polaris/patrons",
            "/polaris/countries",
            "/polaris/staff-users",
            "/polaris/papi-keys",
        )
        for probe in ("example",)
    } | {("GET", PBC, "tenant check")}
    assert any("name" in p for p in broken[("GET", PBC, "example")])


async def test_contract_checker_reports_a_missing_location(app_client, fresh_tenant, monkeypatch):
    from mod_users.resources import crud

    def without_location(body, status=200, headers=None):
        return json_response(body, status=status)

    json_response = crud.json_response
    monkeypatch.setattr(crud, "json_response", without_location)
    report = await check_instance(str(app_client.make_url("")), fresh_tenant, CONTRACT)
    problems = [f.problems for f in report.broken if (f.method, f.url, f.probe) == ("POST", PBC, "example")]
    assert problems == [["header Location is declared for 201 but missing"]]


async def test_contract_checker_reaches_every_route_with_sample_data(fresh_tenant, app_client):
    from tests.polaris.support import headers

    h = {"X-Okapi-Tenant": fresh_tenant}
    resp = await app_client.post(
        "/_/tenant",
        json={
            "module_to": "mod-users-0.1.0",
            "parameters": [{"key": "loadReference", "value": "true"}, {"key": "loadSample", "value": "true"}],
        },
        headers=h,
    )
    await app_client.get(resp.headers["Location"], params={"wait": "30000"}, headers=h)
    base = str(app_client.make_url(""))
    for _ in range(2):  # the run cleans up after itself: a second one reaches everything again
        report = await check_instance(base, fresh_tenant, CONTRACT, headers(fresh_tenant))
        assert report.broken == []
        assert [(r.method, r.path, sorted(set(r.statuses))) for r in report.unreached] == []
        assert len(report.routes) == len(DOCUMENTED_ROUTES)
    polaris = {
        (f.method, f.url.split("/3/1/", 1)[-1], f.status)
        for f in report.findings
        if f.url.startswith("/polaris.applicationservices/") and f.probe == "example"
    }
    assert {
        ("POST", "patrons/1001/blocks", 200),
        ("POST", "patrons/1001/associations", 200),
        ("GET", "patrons/1001/blockssummary", 200),
        ("PUT", "patrons/1001", 200),
    } <= polaris


async def test_contract_command_exits_non_zero_unless_every_route_succeeded(app_client, fresh_tenant, capsys):
    from mod_users.cli import main

    base = str(app_client.make_url(""))
    assert await asyncio.to_thread(main, ["contract", base, "--tenant", fresh_tenant]) == 1
    out = capsys.readouterr().out
    assert f"of {len(DOCUMENTED_ROUTES)} routes answered a documented success" in out
    assert "NO 2xx  GET /polaris.applicationservices/" in out and "--allow-unreached" in out
    assert await asyncio.to_thread(main, ["contract", base, "--tenant", fresh_tenant, "--allow-unreached"]) == 0
    assert "0 broke the contract" in capsys.readouterr().out


async def test_contract_command_refuses_an_uninitialised_tenant(app_client, capsys):
    from mod_users.cli import main

    code = await asyncio.to_thread(main, ["contract", str(app_client.make_url("")), "--tenant", "nosuchtenant"])
    assert code == 2
    captured = capsys.readouterr()
    assert "not usable" in captured.err and "not initialised" in captured.err
    assert "broke the contract" not in captured.out


def _shape(contract):
    """What a contract says, independent of where its files lie."""

    def bodies(e):
        return tuple(
            sorted((s, m, contract.schema_key(b)) for s, r in e.responses.items() for m, b in r.bodies.items())
        )

    routes = {
        (
            e.method,
            e.path,
            tuple(sorted(e.query_params)),
            bodies(e),
            tuple((n, p.example) for n, p in sorted(e.uri_params.items())),
            tuple(h.name for r in e.responses.values() for h in r.headers),
            json.dumps([b.all_examples() for b in e.bodies.values()], sort_keys=True),
        )
        for e in contract.endpoints()
    }
    return routes, {rel: contract.schemas.document(rel) for rel in contract.schemas.paths()}


async def test_the_contract_an_instance_serves_mirrors_back_to_the_same_contract(app_client, tmp_path):
    from mod_users.contract.remote import mirror_contract

    # through Okapi the served links point at the gateway: the mirror follows them back all the same
    root = await mirror_contract(str(app_client.make_url("")), {"X-Okapi-Url": "http://okapi:9130"}, tmp_path)
    mirrored = load_contract(root / "ramls", root / "schemas")
    assert _shape(mirrored) == _shape(CONTRACT)
    assert (root / "ramls" / "raml-util" / "rtypes" / "collection.raml").is_file()
    assert (root / "ramls" / "examples" / "polaris" / "patron-block-post.sample").is_file()
