"""An OpenAPI 3.0 rendering of the RAML endpoints and JSON Schemas, built at start-up.

Nothing here is written by hand: paths, parameters, bodies and responses come from the RAML, schemas
from ``schemas/`` (draft-04 turned into OpenAPI schema objects), so standard tools (schemathesis,
Swagger UI) see exactly the contract the service enforces.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mod_users.contract import Contract, Endpoint, Param
from mod_users.okapi import PERMISSIONS, TENANT

# Keywords an OpenAPI 3.0 schema object understands; anything else in a draft-04 schema is dropped.
_KEEP = {
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "format",
    "default",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "readOnly",
    "example",
}
TENANT_PATTERN = "^[a-z][a-z0-9_]{0,30}$"


def component_name(rel: str) -> str:
    """A components/schemas name for a schema file path."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", rel.rsplit(".", 1)[0].replace("/", "."))


def _convert(node: Any, here: str) -> Any:
    """A draft-04 schema node as an OpenAPI 3.0 schema object."""
    if isinstance(node, list):
        return [_convert(v, here) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = node["$ref"]
        if target.startswith("#"):
            raise ValueError(f"local $ref {target!r} is not supported in the OpenAPI rendering")
        ref = {"$ref": "#/components/schemas/" + component_name(posixpath.normpath(posixpath.join(here, target)))}
        # OpenAPI 3.0 ignores the siblings of a $ref; wrapped in allOf, the description and readOnly
        # (RMB's ``readonly``, as on every record's metadata) keep their meaning.
        siblings = {"description": node["description"]} if "description" in node else {}
        readonly = node.get("readOnly", node.get("readonly"))
        if readonly is not None:
            siblings["readOnly"] = readonly
        return {"allOf": [ref], **siblings} if siblings else ref
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "readonly":
            out["readOnly"] = value
        elif key in ("properties",):
            out[key] = {name: _convert(v, here) for name, v in value.items()}
        elif key in _KEEP:
            out[key] = _convert(value, here) if isinstance(value, (dict, list)) and key != "enum" else value
    alternatives = out.get("anyOf")
    if alternatives and {"type": "null"} in [{"type": a.get("type")} for a in alternatives]:
        # OpenAPI 3.0 has no null type: a schema that is "this, or null" is this one, nullable.
        rest = [a for a in alternatives if a.get("type") != "null"]
        out.pop("anyOf")
        if len(rest) == 1:
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    types = out.get("type")
    if isinstance(types, list):
        non_null = [t for t in types if t != "null"]
        if len(non_null) == 1:
            out["type"] = non_null[0]
        else:
            out.pop("type")
        if "null" in types:
            out["nullable"] = True
    if out.get("enum") and None in out["enum"]:
        out["nullable"] = True
        if "type" in out:
            # OpenAPI 3.0.3: "nullable: true adds null to the allowed values"; a null listed in a typed
            # enum is a value of the wrong type to AMF (FOLIO's api-lint warns "should be integer").
            out["enum"] = [value for value in out["enum"] if value is not None]
    return out


def _parameter(param: Param, where: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.type if param.type in ("integer", "number", "boolean") else "string"}
    for key, value in (
        ("default", param.default),
        ("minimum", param.minimum),
        ("maximum", param.maximum),
        ("pattern", param.pattern),
        ("minLength", param.min_length),
        ("maxLength", param.max_length),
    ):
        if value is not None:
            schema[key] = f"^(?:{value})$" if key == "pattern" else value
    if param.enum is not None:
        schema["enum"] = list(param.enum)
    out = {
        "name": param.name,
        "in": where,
        "required": True if where == "path" else param.required,
        "description": param.description,
        "schema": schema,
    }
    if param.example is not None:
        out["example"] = param.example
    return out


def _content(contract: Contract, bodies: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for media, body in bodies.items():
        key = contract.schema_key(body)
        if key is not None:
            entry: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/" + component_name(key)}}
        elif media.startswith("text/"):
            entry = {"schema": {"type": "string"}}
        else:
            entry = {"schema": {}}
        if body.examples:
            entry["examples"] = {name: {"value": value} for name, value in body.examples.items()}
        elif body.has_example and body.example is not None:
            entry["example"] = body.example
        content[media] = entry
    return content


def _okapi_headers(needs_tenant: bool, desired: tuple[str, ...]) -> list[dict[str, Any]]:
    """The ``X-Okapi-*`` headers a call through Okapi carries and the route needs, as header parameters."""
    headers = []
    if needs_tenant:
        headers.append(
            {
                "name": TENANT,
                "in": "header",
                "required": True,
                "description": "The tenant, as Okapi sends it; without it the route answers 400",
                "schema": {"type": "string", "pattern": TENANT_PATTERN},
            }
        )
    if desired:
        # Okapi sends every permission it granted the caller, so any JSON array is a valid value; the
        # route's own set is the example.
        headers.append(
            {
                "name": PERMISSIONS,
                "in": "header",
                "required": True,
                "description": (
                    f"The permissions Okapi granted the caller, a JSON array; this route desires "
                    f"{', '.join(desired)} (its permissionsDesired in the ModuleDescriptor) and "
                    f"answers 403 without any one of them"
                ),
                "schema": {"type": "string", "pattern": r"^\s*\[.*\]\s*$"},
                "example": json.dumps(list(desired)),
            }
        )
    return headers


def _operation(
    contract: Contract, endpoint: Endpoint, needs_tenant: bool, desired: tuple[str, ...] = ()
) -> dict[str, Any]:
    parameters = [_parameter(p, "path") for p in endpoint.uri_params.values()]
    parameters += [_parameter(p, "query") for p in endpoint.query_params.values()]
    parameters += _okapi_headers(needs_tenant, desired)
    operation: dict[str, Any] = {
        "operationId": endpoint.method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", endpoint.path).rstrip("_"),
        "summary": endpoint.description.split("\n", 1)[0][:120],
        "tags": [endpoint.raml_file.stem],
        "parameters": parameters,
        "responses": {},
    }
    if endpoint.bodies:
        operation["requestBody"] = {"required": True, "content": _content(contract, endpoint.bodies)}
    for status, response in sorted(endpoint.responses.items()):
        entry: dict[str, Any] = {"description": response.description or str(status)}
        if response.bodies:
            entry["content"] = _content(contract, response.bodies)
        if response.headers:
            entry["headers"] = {
                h.name: {"description": h.description or h.name, "required": h.required, "schema": {"type": "string"}}
                for h in response.headers
            }
        operation["responses"][str(status)] = entry
    return operation


def build_openapi(
    contract: Contract,
    version: str,
    tenant_routes: Iterable[tuple[str, str]],
    desired: Mapping[tuple[str, str], tuple[str, ...]],
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the endpoints of ``contract`` that ``tenant_routes`` names: the (method,
    path) pairs the listener serves, each requiring ``X-Okapi-Tenant`` (the Polaris listener's own routes
    are not the FOLIO port's); ``desired`` the permissions each (method, path) desires."""
    needs_tenant = set(tenant_routes)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in contract.endpoints():
        key = (endpoint.method, endpoint.path)
        if key not in needs_tenant:
            continue
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            contract, endpoint, True, desired.get(key, ())
        )
    schemas = {}
    for rel in contract.schemas.paths():
        schemas[component_name(rel)] = _convert(contract.schemas.document(rel), posixpath.dirname(rel))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mod-users",
            "version": version,
            "description": "Generated at start-up from the module's RAML and JSON Schemas.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas},
    }
