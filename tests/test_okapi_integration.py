"""Behind Okapi: the ModuleDescriptor, the routes it declares, and the served contract files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from mod_users.app import ROUTES
from mod_users.config import PROJECT_ROOT
from mod_users.descriptor import (
    InvalidPathPattern,
    handler_for,
    handlers,
    path_pattern_regex,
    render_descriptor,
    sample_path,
)

OKAPI_SCHEMAS = Path(__file__).parent / "data" / "okapi-schemas"
TEMPLATE = PROJECT_ROOT / "descriptors" / "ModuleDescriptor-template.json"
DESCRIPTOR = render_descriptor(TEMPLATE, "0.1.0")
# Routes Okapi proxies to but that are not business routes of a RAML API.
SYSTEM_ROUTES = {("GET", "/_/jsonSchemas"), ("GET", "/_/ramls"), ("GET", "/_/openapi")}


def okapi_validator() -> Draft4Validator:
    resources = []
    for path in OKAPI_SCHEMAS.glob("*.json"):
        resources.append((path.name, Resource(json.loads(path.read_text()), specification=DRAFT4)))
    registry = Registry().with_resources(resources)
    return Draft4Validator({"$ref": "ModuleDescriptor.json"}, registry=registry)


def test_descriptor_validates_against_okapis_schema():
    errors = [e.message for e in okapi_validator().iter_errors(DESCRIPTOR)]
    assert errors == []


def test_okapis_schema_catches_a_broken_descriptor():
    broken = dict(DESCRIPTOR, provides=[{"id": "x", "version": "1.0", "handlers": [{"pathPatern": "/x"}]}])
    assert list(okapi_validator().iter_errors(broken))


def test_descriptor_command_prints_the_filled_template():
    out = subprocess.run(
        [sys.executable, "-m", "mod_users.cli", "descriptor"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    ).stdout
    printed = json.loads(out)
    assert printed["id"].startswith("mod-users-") and "${" not in out
    assert printed["launchDescriptor"]["dockerImage"] == printed["id"].replace("mod-users-", "mod-users:")


# (method, RAML path) of everything served.
SERVED = [(r.method, r.path) for r in ROUTES] + sorted(SYSTEM_ROUTES)


def _serves(path: str, pattern: str) -> bool:
    """Whether a served path answers what a descriptor pathPattern declares."""
    return path_pattern_regex(pattern).fullmatch(sample_path(path)) is not None


def test_every_declared_handler_is_served():
    for handler in handlers(DESCRIPTOR):
        for method in handler.methods:
            assert any(m == method and _serves(p, handler.path_pattern) for m, p in SERVED), (
                f"{method} {handler.path_pattern} is declared but not served"
            )


def test_every_served_route_is_declared():
    all_handlers = handlers(DESCRIPTOR)
    for method, path in SERVED:
        assert handler_for(all_handlers, method, sample_path(path)), f"{method} {path} is not in the descriptor"


@pytest.mark.parametrize(
    "casing", ["polaris.applicationservices", "Polaris.ApplicationServices", "POLARIS.APPLICATIONSERVICES"]
)
def test_polaris_routes_reach_okapi_in_any_casing_with_their_permissions(casing):
    # Okapi refuses "." in a pathPattern, so the prefix segment is a {placeholder}: one handler per route
    # serves every casing a client sends, and the module checks the segment itself.
    all_handlers = handlers(DESCRIPTOR)
    polaris = [r for r in ROUTES if r.case_insensitive_prefix]
    assert len(polaris) == 17
    for route in polaris:
        assert route.path.startswith("/polaris.applicationservices/api/")
        sent = "/" + casing + route.path[len("/polaris.applicationservices") :]
        entry = handler_for(all_handlers, route.method, sample_path(sent))
        assert entry is not None and entry.path_pattern.startswith("/{polarisService}/api/"), route.path
        assert len(entry.permissions_required) == 1  # the gateway authorises it (tests/test_descriptor_rules.py)
        assert entry.interface.startswith("polaris-patron-")


def test_interfaces_and_permissions():
    provided = {i["id"]: i for i in DESCRIPTOR["provides"]}
    assert provided["patron-block-conditions"]["version"] == "0.1"
    assert provided["_tenant"]["version"] == "2.0" and provided["_tenant"]["interfaceType"] == "system"
    assert {h["pathPattern"] for h in provided["_tenant"]["handlers"]} == {"/_/tenant", "/_/tenant/{id}"}
    defined = {p["permissionName"] for p in DESCRIPTOR["permissionSets"]}
    used = {name for h in handlers(DESCRIPTOR) for name in (*h.permissions_required, *h.permissions_desired)}
    assert used <= defined
    assert {
        "patron-block-conditions.collection.get",
        "patron-block-conditions.item.post",
        "patron-block-conditions.item.get",
        "patron-block-conditions.item.put",
        "patron-block-conditions.item.delete",
    } <= used
    all_sets = [p for p in DESCRIPTOR["permissionSets"] if p["permissionName"].endswith(".all")]
    assert all_sets
    everything = {name for p in all_sets for name in p.get("subPermissions", [])}
    assert used <= everything
    launch = DESCRIPTOR["launchDescriptor"]
    assert launch["dockerPull"] is False
    assert {e["name"] for e in launch["env"]} >= {"DB_HOST", "DB_PORT", "DB_USERNAME", "DB_PASSWORD", "DB_DATABASE"}
    assert launch["dockerArgs"]["HostConfig"]["Memory"] > 0


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/users/{id}", "/users/abc", True),
        ("/users/{id}", "/users/abc/d", False),
        ("/users/{id}", "/users/", False),
        ("/groups*", "/groups/x/y", True),
        ("/groups*", "/groups", True),
        ("/*", "/anything/at/all", True),
        ("/users/{id}", "/users/abc?x=1", True),
    ],
)
def test_okapi_path_pattern_rules(pattern, path, matches):
    all_handlers = handlers({"provides": [{"id": "i", "handlers": [{"methods": ["GET"], "pathPattern": pattern}]}]})
    assert (handler_for(all_handlers, "GET", path) is not None) == matches


@pytest.mark.parametrize(
    "pattern",
    ["/polaris.applicationservices/api", "/a b", "/x?y", "/{a.b}/c", "/{a/b}", "/{open", "/users:search", "/a+b"],
)
def test_path_patterns_okapi_refuses_are_refused(pattern):
    with pytest.raises(InvalidPathPattern):
        path_pattern_regex(pattern)
    with pytest.raises(InvalidPathPattern):
        handlers({"provides": [{"id": "i", "handlers": [{"methods": ["GET"], "pathPattern": pattern}]}]})


async def test_json_schemas_list_and_one_schema_with_followable_refs(app_client):
    resp = await app_client.get("/_/jsonSchemas")
    assert resp.status == 200
    listed = await resp.json()
    assert "patron-block-condition.json" in listed and "raml-util/schemas/metadata.schema" in listed
    resp = await app_client.get(
        "/_/jsonSchemas", params={"path": "patron-block-condition.json"}, headers={"X-Okapi-Url": "http://okapi:9130"}
    )
    assert resp.status == 200
    assert resp.content_type == "application/schema+json"
    schema = await resp.json()
    assert (
        schema["properties"]["metadata"]["$ref"]
        == "http://okapi:9130/_/jsonSchemas?path=raml-util/schemas/metadata.schema"
    )
    # The rewritten link is served too, and its own relative refs resolve beside it.
    resp = await app_client.get(
        "/_/jsonSchemas",
        params={"path": "raml-util/schemas/errors.schema"},
        headers={"X-Okapi-Url": "http://okapi:9130"},
    )
    errors = await resp.json()
    assert (
        errors["properties"]["errors"]["items"]["$ref"]
        == "http://okapi:9130/_/jsonSchemas?path=raml-util/schemas/error.schema"
    )


async def test_without_okapi_url_links_point_at_the_module_itself(app_client):
    resp = await app_client.get("/_/jsonSchemas", params={"path": "patron-block-condition.json"})
    ref = (await resp.json())["properties"]["metadata"]["$ref"]
    assert ref.startswith(f"http://{app_client.host}:{app_client.port}/_/jsonSchemas?path=")


@pytest.mark.parametrize("path", ["nope.json", "../pyproject.toml", "/etc/passwd", "raml-util/../../README.md", ""])
async def test_unknown_or_escaping_schema_paths_are_404(app_client, path):
    resp = await app_client.get("/_/jsonSchemas", params={"path": path})
    assert resp.status == 404
    assert "not found" in await resp.text()


async def test_ramls_list_and_one_raml_with_followable_includes(app_client):
    resp = await app_client.get("/_/ramls")
    assert "patron-block-conditions.raml" in await resp.json()
    resp = await app_client.get(
        "/_/ramls", params={"path": "patron-block-conditions.raml"}, headers={"X-Okapi-Url": "http://okapi:9130"}
    )
    assert resp.status == 200
    assert resp.content_type == "application/raml+yaml"
    text = await resp.text()
    assert "!include http://okapi:9130/_/jsonSchemas?path=patron-block-condition.json" in text
    assert "!include http://okapi:9130/_/ramls?path=raml-util/traits/pageable.raml" in text
    assert "../schemas" not in text
    resp = await app_client.get("/_/ramls", params={"path": "raml-util/traits/pageable.raml"})
    assert resp.status == 200 and "offset" in await resp.text()
    assert (await app_client.get("/_/ramls", params={"path": "../README.md"})).status == 404


async def test_openapi_is_a_valid_openapi_3_document_of_every_endpoint(app_client):
    resp = await app_client.get("/_/openapi")
    assert resp.status == 200
    doc = await resp.json()
    validate_openapi(doc)
    operations = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert operations == {(r.method, r.path) for r in ROUTES}
    post = doc["paths"]["/patron-block-conditions"]["post"]
    assert (
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/patron-block-condition"
    )
    assert set(post["responses"]) >= {"201", "400", "422"}
    tenant_header = [p for p in post["parameters"] if p["in"] == "header"]
    assert tenant_header and tenant_header[0]["name"] == "X-Okapi-Tenant"


async def test_openapi_describes_the_okapi_headers_each_route_needs(app_client):
    doc = await (await app_client.get("/_/openapi")).json()
    desired = {
        (m, p): h.permissions_desired
        for m, p in SERVED
        if (h := handler_for(handlers(DESCRIPTOR), m, sample_path(p))) is not None
    }
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
            assert headers["X-Okapi-Tenant"]["required"] is True, (method, path)
            wanted = desired[(method.upper(), path)]
            if not wanted:
                assert "X-Okapi-Permissions" not in headers, (method, path)
                continue
            permissions = headers["X-Okapi-Permissions"]
            assert permissions["required"] is True
            assert all(name in permissions["description"] for name in wanted)
            assert json.loads(permissions["example"]) == list(wanted)
            assert "enum" not in permissions["schema"]  # Okapi may grant more than the route desires
    blocks = doc["paths"][next(p for p in doc["paths"] if p.endswith("/patrons/{patronId}/blockssummary"))]["get"]
    assert "polaris.patron-status.blocks.view" in json.dumps(blocks["parameters"])


async def test_openapi_keeps_readonly_beside_a_ref(app_client):
    doc = await (await app_client.get("/_/openapi")).json()
    metadata = doc["components"]["schemas"]["patron-block-condition"]["properties"]["metadata"]
    assert metadata["allOf"] == [{"$ref": "#/components/schemas/raml-util.schemas.metadata"}]
    assert metadata["readOnly"] is True and metadata["description"]


async def test_a_route_that_desires_a_permission_refuses_calls_without_it(
    aiohttp_client, settings, db_settings, tenant
):
    from aiohttp import web

    from mod_users.app import add_routes, desired_permissions, health
    from mod_users.contract import load_contract
    from mod_users.descriptor import Handler
    from mod_users.middlewares import error_mapping, okapi_context
    from mod_users.resources.polaris import LISTENER_ROUTES
    from mod_users.state import BACKGROUND, CONTRACT, POOL, STORE
    from mod_users.storage.database import create_pool
    from mod_users.storage.records import RecordStore

    contract = load_contract(settings.ramls_dir, settings.schemas_dir)
    app = web.Application(middlewares=[okapi_context, error_mapping])
    app[CONTRACT] = contract
    app[BACKGROUND] = set()
    wanted = Handler("patron-block-conditions", ("GET",), "/patron-block-conditions", (), ("pbc.read.extra",))
    add_routes(app, contract, ROUTES, desired_permissions(ROUTES, [wanted]), elsewhere=LISTENER_ROUTES)
    app.router.add_get("/admin/health", health)

    async def pool(app):
        app[POOL] = await create_pool(db_settings)
        app[STORE] = RecordStore(app[POOL])
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool)
    client = await aiohttp_client(app)
    resp = await client.get("/patron-block-conditions", headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 403
    assert "pbc.read.extra" in await resp.text()
    resp = await client.get(
        "/patron-block-conditions", headers={"X-Okapi-Tenant": tenant, "X-Okapi-Permissions": '["pbc.read.extra"]'}
    )
    assert resp.status == 200
