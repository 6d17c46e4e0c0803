"""``/_/jsonSchemas``, ``/_/ramls`` and ``/_/openapi``: the contract, served to other modules and tools.

These are system routes (no tenant, no RAML of their own), as RMB modules serve them.
"""

from __future__ import annotations

import json

from aiohttp import web

from mod_users.contract.serving import NotServed, raml_document, raml_list, schema_document
from mod_users.okapi import URL
from mod_users.routing import json_response, text_response
from mod_users.state import CONTRACT, OPENAPI, SETTINGS


def _base_url(request: web.Request) -> str:
    """Where links in served files point: the gateway when Okapi sent us its URL, else ourselves."""
    okapi = request.headers.get(URL, "").strip().rstrip("/")
    if okapi and len(okapi) <= 2048:
        return okapi
    return f"{request.scheme}://{request.host}"


async def json_schemas(request: web.Request) -> web.StreamResponse:
    """The list of schema paths, or with ``?path=`` one schema with its $refs made followable."""
    rel = request.query.get("path")
    if rel is None:
        return json_response(request.app[CONTRACT].schemas.paths())
    try:
        doc = schema_document(request.app[CONTRACT].schemas, rel, _base_url(request))
    except NotServed:
        return text_response(f"Schema {rel[:200]} not found", 404)
    return web.Response(
        body=json.dumps(doc, ensure_ascii=False, indent=2).encode(), content_type="application/schema+json"
    )


async def ramls(request: web.Request) -> web.StreamResponse:
    """The list of RAML APIs, or with ``?path=`` one file with its includes made followable."""
    rel = request.query.get("path")
    settings = request.app[SETTINGS]
    if rel is None:
        return json_response(raml_list(settings.ramls_dir))
    try:
        text, media = raml_document(settings.ramls_dir, settings.schemas_dir, rel, _base_url(request))
    except NotServed:
        return text_response(f"RAML {rel[:200]} not found", 404)
    return web.Response(text=text, content_type=media)


async def openapi(request: web.Request) -> web.StreamResponse:
    """The OpenAPI 3 rendering of the contract (built once at start-up)."""
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


def add_system_routes(app: web.Application) -> None:
    app.router.add_get("/_/jsonSchemas", json_schemas)
    app.router.add_get("/_/ramls", ramls)
    app.router.add_get("/_/openapi", openapi)
