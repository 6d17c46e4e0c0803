"""Judging one answer against the contract, for our tests and for ``mod-users contract``.

``response_problems`` says what is wrong with one answer: an undocumented status, a declared header that
is missing (or a ``Location`` that does not name the created record), a media type the RAML does not give
for it, a body that breaks its schema. :mod:`mod_users.contract.probe` drives a running instance and
judges each answer with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mod_users.contract import Contract, Endpoint, Response


def response_problems(
    contract: Contract, endpoint: Endpoint, status: int, headers: Mapping[str, str], body: bytes
) -> list[str]:
    """Everything about one answer that the RAML does not allow; empty when it conforms: its status, its
    declared headers (a ``Location`` must name the created record), its media type and body schema."""
    response = endpoint.responses.get(status)
    if response is None:
        return [f"status {status} is not documented (documented: {sorted(endpoint.responses)})"]
    document, problems = _body_problems(contract, response, headers, body)
    return _header_problems(contract, response, headers, document) + problems


def _body_problems(
    contract: Contract, response: Response, headers: Mapping[str, str], body: bytes
) -> tuple[Any, list[str]]:
    """The body's JSON document (None when there is none) and what is wrong with its media type and schema."""
    status = response.status
    if not response.bodies:
        return None, [] if not body else [f"status {status} is documented without a body, got {len(body)} bytes"]
    media = header_value(headers, "Content-Type").split(";", 1)[0].strip()
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


def header_value(headers: Mapping[str, str], name: str) -> str:
    """A header's value, whatever the case of its name in ``headers`` ("" when absent)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def _header_problems(contract: Contract, response: Response, headers: Mapping[str, str], document: Any) -> list[str]:
    problems = []
    for declared in response.headers:
        value = header_value(headers, declared.name)
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
