"""Checking answers against the contract, for our tests and for other teams' running instances.

``response_problems`` says what is wrong with one answer (an undocumented status, a media type the RAML
does not give for it, a body that breaks its schema). ``check_instance`` drives a running module through
every RAML endpoint — the examples, then unknown ids, malformed JSON and missing tenants — and reports every
answer that breaks the contract. ``mod-users contract URL --tenant T`` runs it from the command line.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from mod_users.contract import Contract, Endpoint, Response


@dataclass
class Finding:
    """One request made by the checker and what was wrong with its answer (nothing, ideally)."""

    method: str
    url: str
    probe: str
    status: int
    problems: list[str] = field(default_factory=list)


def response_problems(contract: Contract, endpoint: Endpoint, status: int, headers: Mapping[str, str],
                      body: bytes) -> list[str]:
    """Everything about one answer that the RAML does not allow; empty when it conforms: its status, its
    declared headers (a ``Location`` must name the created record), its media type and body schema."""
    response = endpoint.responses.get(status)
    if response is None:
        return [f"status {status} is not documented (documented: {sorted(endpoint.responses)})"]
    document, problems = _body_problems(contract, response, headers, body)
    return _header_problems(contract, response, headers, document) + problems


def _body_problems(contract: Contract, response: Response, headers: Mapping[str, str],
                   body: bytes) -> tuple[Any, list[str]]:
    """The body's JSON document (None when there is none) and what is wrong with its media type and schema."""
    status = response.status
    if not response.bodies:
        return None, [] if not body else [f"status {status} is documented without a body, got {len(body)} bytes"]
    media = _header(headers, "Content-Type").split(";", 1)[0].strip()
    declared = response.bodies.get(media)
    if declared is None:
        return None, [f"media type {media!r} is not documented for {status} (documented: {sorted(response.bodies)})"]
    key = contract.schema_key(declared)
    if key is None:
        return None, []
    try:
        document = json.loads(body)
    except ValueError as exc:
        return None, [f"body is not JSON: {exc}"]
    return document, [f"{e.field or '(root)'}: {e.message}" for e in contract.schemas.errors(key, document)]


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, whatever the case of its name in ``headers`` ("" when absent)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def _header_problems(contract: Contract, response: Response, headers: Mapping[str, str], document: Any) -> list[str]:
    problems = []
    for declared in response.headers:
        value = _header(headers, declared.name)
        if not value:
            if declared.required:
                problems.append(f"header {declared.name} is declared for {response.status} but missing")
        elif declared.name.lower() == "location":
            problems += _location_problems(contract, value, document)
    return problems


def _location_problems(contract: Contract, location: str, document: Any) -> list[str]:
    """A Location must be a path the contract serves with GET and, when the body is a record with an
    ``id``, end with that id: it names the record just created, so that a client can follow it."""
    path = urlsplit(location).path
    if contract.endpoint_at("GET", path) is None:
        return [f"Location {location!r} is not a path the contract serves with GET"]
    record_id = document.get("id") if isinstance(document, dict) else None
    if record_id is not None and path.rstrip("/").rsplit("/", 1)[-1] != str(record_id):
        return [f"Location {location!r} does not name the created record {record_id}"]
    return []


def _fill(endpoint: Endpoint, ids: dict[str, str]) -> str:
    """The endpoint's path with its parameters filled: a known id, else a value the RAML allows."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ids:
            return ids[name]
        param = endpoint.uri_params.get(name)
        if param is not None and param.enum:
            return str(param.enum[0])
        if param is not None and param.type == "integer":
            return "999999"
        return str(uuid.uuid4())

    return re.sub(r"\{([^}]+)\}", value, endpoint.path)


def _query(endpoint: Endpoint) -> str:
    """Values the RAML allows for the endpoint's required query parameters (none for optional ones)."""
    values = {}
    for name, param in endpoint.query_params.items():
        if not param.required:
            continue
        if param.enum:
            values[name] = str(param.enum[0])
        elif param.type == "boolean":
            values[name] = "false"
        elif param.type in ("integer", "number"):
            values[name] = str(int(param.minimum) if param.minimum is not None else 1)
        else:
            values[name] = "x"
    return ("?" + urlencode(values)) if values else ""


def _example(endpoint: Endpoint) -> Any:
    body = endpoint.json_body
    if body is None or not body.has_example:
        return None
    example = json.loads(json.dumps(body.example))
    if isinstance(example, dict) and endpoint.method == "POST":
        example.pop("id", None)  # a fresh record each run
    return example


async def check_instance(base_url: str, tenant: str, contract: Contract,
                         headers: dict[str, str] | None = None,
                         uri_values: dict[str, str] | None = None) -> list[Finding]:
    """Exercise every endpoint of ``contract`` on the module at ``base_url``; return every request made.

    ``uri_values`` fill URI parameters by name (for example an existing ``workstationId``, so that the
    Polaris-style routes get past their workstation check); others get an id created on the way, a value
    the RAML allows, or an unknown id.
    """
    base = base_url.rstrip("/")
    common = {"X-Okapi-Tenant": tenant, **(headers or {})}
    findings: list[Finding] = []
    created: dict[str, str] = dict(uri_values or {})

    async with aiohttp.ClientSession() as session:
        async def call(endpoint: Endpoint, probe: str, path: str, *, data: bytes | None = None,
                       send_tenant: bool = True) -> tuple[int, bytes]:
            hdrs = dict(common) if send_tenant else {k: v for k, v in common.items() if k != "X-Okapi-Tenant"}
            if data is not None:
                hdrs["Content-Type"] = "application/json"
            async with session.request(endpoint.method, base + path + _query(endpoint), data=data,
                                       headers=hdrs) as resp:
                raw = await resp.read()
                problems = response_problems(contract, endpoint, resp.status, resp.headers, raw)
                findings.append(Finding(endpoint.method, path, probe, resp.status, problems))
                return resp.status, raw

        order = {"POST": 0, "GET": 1, "PUT": 2, "DELETE": 3}
        endpoints = sorted(contract.endpoints(), key=lambda e: (order.get(e.method, 9), e.path))
        for endpoint in endpoints:
            if endpoint.path.startswith("/_/"):
                continue  # the tenant API is exercised by Okapi, not by a contract run
            example = _example(endpoint)
            data = None if example is None else json.dumps(example).encode()
            status, raw = await call(endpoint, "example", _fill(endpoint, created), data=data)
            if endpoint.method == "POST" and status == 201:
                record_id = json.loads(raw).get("id")
                item = re.compile(re.escape(endpoint.path) + r"/\{([^}]+)\}")
                for other in contract.endpoints():
                    found = item.fullmatch(other.path)
                    if found and record_id:
                        created[found.group(1)] = str(record_id)
            if "{" in endpoint.path:
                await call(endpoint, "unknown id", _fill(endpoint, dict(uri_values or {})), data=data)
            if endpoint.json_body is not None:
                await call(endpoint, "malformed JSON", _fill(endpoint, created), data=b'{"unterminated')
            await call(endpoint, "no tenant", _fill(endpoint, created), data=data, send_tenant=False)
    return findings
