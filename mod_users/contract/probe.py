"""Driving a running instance through every RAML route and judging each answer (``mod-users contract``).

:func:`check_instance` returns a :class:`Report`: every request made with what was wrong with its answer
(:func:`~mod_users.contract.checker.response_problems`), and for every route whether it answered a
documented success (a 2xx whose headers and body were checked). A run in which nothing succeeds proves
nothing, so the checker does its best to make calls succeed, and says which never did:

- The tenant is checked first: the first collection (a GET route without URI or required query
  parameters) must answer 2xx, else :class:`TenantNotUsable` (not initialised, unknown tenant, ...).
- Routes run POST, GET, PUT, DELETE, each in path order, so that what a POST creates is there for the
  routes below its path.
- A URI parameter takes, in this order: the value the caller gave; for an integer parameter, the integer
  field named like it in the route's own example body (so that URL and body name the same record); a
  value from a POST's answer on a path above it (its ``Location``, else a field named like the parameter;
  each record created is tried); the parameter's RAML example (the Polaris-style routes' examples are
  the sample data's); on a GET below a collection, the id of the collection's first record; else a value
  the RAML allows (an enum's first, 999999, a random UUID). "Named like" ignores case and a plural s
  (``blockId`` ~ ``BlockID``).
- A body is each RAML example in turn (a POST's without its ``id``). A PUT whose body has the schema of
  what GET answers at the same URL sends back the record just read. A POST answered 422 naming fields of
  the example (an id or a unique value that exists already) is sent again with those fields dropped
  (integers: the server allocates them) or made unique (strings).
- Below a collection, PUT and DELETE touch only records the run created. The Polaris-style calls use
  the RAML examples on the sample patrons: run the checker on a tenant whose data may change.

Only the routes the instance serves on the port it is given are driven (its ``/_/openapi`` says which: the
Polaris listener's own routes are not the FOLIO port's). After each route's examples come the failure
probes: its last URI parameter unknown, malformed JSON, and no tenant.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp

from mod_users.contract import Contract, Endpoint, template_values
from mod_users.contract.checker import header_value, response_problems

_ORDER = {"POST": 0, "GET": 1, "PUT": 2, "DELETE": 3}
_PARAM = re.compile(r"\{([^}]+)\}")
# A POST whose example conflicts with existing data is adjusted and sent again at most this often.
_RETRIES = 3


class TenantNotUsable(Exception):
    """The instance cannot be checked for the tenant: unreachable, or its first call did not succeed."""


@dataclass
class Finding:
    """One request made by the checker and what was wrong with its answer (nothing, ideally)."""

    method: str
    url: str
    probe: str
    status: int
    problems: list[str] = field(default_factory=list)
    route: str = ""  # the RAML path template


@dataclass
class RouteOutcome:
    """What one route answered during a run; ``success`` is its first documented 2xx, if any."""

    method: str
    path: str
    statuses: list[int]
    success: int | None


@dataclass
class Report:
    """Every request of a run, and what each route answered."""

    findings: list[Finding]
    routes: list[RouteOutcome]

    @property
    def broken(self) -> list[Finding]:
        return [f for f in self.findings if f.problems]

    @property
    def unreached(self) -> list[RouteOutcome]:
        return [r for r in self.routes if r.success is None]


async def check_instance(
    base_url: str,
    tenant: str,
    contract: Contract,
    headers: Mapping[str, str] | None = None,
    uri_values: Mapping[str, str] | None = None,
) -> Report:
    """Exercise every business route of ``contract`` on the module at ``base_url`` for ``tenant``.

    ``headers`` go with every request (for example ``X-Okapi-Permissions``); ``uri_values`` fill URI
    parameters by name before anything else does. Raise :class:`TenantNotUsable` when the tenant's first
    call does not succeed.
    """
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        served = await _served(session, base_url.rstrip("/"))
        endpoints = sorted(
            (
                e
                for e in contract.endpoints()
                if not e.path.startswith("/_/") and (served is None or (e.method, e.path) in served)
            ),
            key=lambda e: (_ORDER.get(e.method, 9), e.path),
        )
        run = _Run(session, base_url.rstrip("/"), tenant, contract, dict(headers or {}), dict(uri_values or {}))
        await run.check_tenant(endpoints)
        for endpoint in endpoints:
            await run.route(endpoint)
    return Report(run.findings, [_outcome(e, run.findings) for e in endpoints])


async def _served(session: aiohttp.ClientSession, base: str) -> set[tuple[str, str]] | None:
    """The routes the instance serves on this port, from its ``/_/openapi`` (the Polaris listener's own
    routes are in the contract but not on the FOLIO port); None when it does not say."""
    try:
        async with session.get(f"{base}/_/openapi") as resp:
            if resp.status != 200:
                return None
            paths = (await resp.json(content_type=None)).get("paths", {})
    except (aiohttp.ClientError, ValueError, AttributeError):
        return None
    return {(method.upper(), path) for path, operations in paths.items() for method in operations}


def _outcome(endpoint: Endpoint, findings: list[Finding]) -> RouteOutcome:
    statuses = [f.status for f in findings if f.method == endpoint.method and f.route == endpoint.path]
    success = next((s for s in statuses if 200 <= s < 300 and s in endpoint.responses), None)
    return RouteOutcome(endpoint.method, endpoint.path, statuses, success)


class _Run:
    """The state of one run: what was created, listed and read so far."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base: str,
        tenant: str,
        contract: Contract,
        headers: dict[str, str],
        given: dict[str, str],
    ) -> None:
        self.session, self.base, self.tenant, self.contract = session, base, tenant, contract
        self.headers = {"X-Okapi-Tenant": tenant, **headers}
        self.given = given
        self.findings: list[Finding] = []
        self.created: dict[str, list[dict[str, str]]] = {}  # POST path -> URI values of each record made
        self.listed: dict[str, dict[str, str]] = {}  # item path -> the id of its collection's first record
        self.read: dict[str, Any] = {}  # URL -> the document GET answered there

    async def call(
        self, endpoint: Endpoint, probe: str, path: str, data: bytes | None = None, send_tenant: bool = True
    ) -> tuple[int, bytes, dict[str, str]]:
        """Send one request, judge its answer and record the finding."""
        headers = dict(self.headers)
        if not send_tenant:
            headers.pop("X-Okapi-Tenant")
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self.base + path + _query(endpoint)
        async with self.session.request(endpoint.method, url, data=data, headers=headers) as resp:
            raw = await resp.read()
            answer_headers = dict(resp.headers)
        problems = response_problems(self.contract, endpoint, resp.status, answer_headers, raw)
        self.findings.append(Finding(endpoint.method, path, probe, resp.status, problems, endpoint.path))
        return resp.status, raw, answer_headers

    async def check_tenant(self, endpoints: list[Endpoint]) -> None:
        """Refuse to go on unless the first collection answers 2xx for the tenant."""
        first = next(
            (
                e
                for e in endpoints
                if e.method == "GET" and not e.uri_params and not any(p.required for p in e.query_params.values())
            ),
            None,
        )
        if first is None:
            return
        try:
            status, raw, _ = await self.call(first, "tenant check", first.path)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TenantNotUsable(f"cannot reach {self.base}: {exc or type(exc).__name__}") from exc
        if not 200 <= status < 300:
            text = raw[:300].decode("utf-8", "replace").strip()
            raise TenantNotUsable(f"GET {first.path} for tenant {self.tenant!r} answered {status}: {text}")

    async def route(self, endpoint: Endpoint) -> None:
        """The route's examples (for every record it may apply to), then its failure probes."""
        records = self._records(endpoint)
        for record in records:
            for example in _examples(endpoint):
                await self._example(endpoint, record, example)
        example = _examples(endpoint)[0]
        path = self._fill(endpoint, records[0], example)
        data = None if example is None else json.dumps(example).encode()
        if endpoint.uri_params:
            await self.call(endpoint, "unknown id", _unknown_last(endpoint, path), data)
        if endpoint.json_body is not None:
            await self.call(endpoint, "malformed JSON", path, b'{"unterminated')
        await self.call(endpoint, "no tenant", path, data, send_tenant=False)

    async def _example(self, endpoint: Endpoint, record: dict[str, str], example: Any) -> None:
        path = self._fill(endpoint, record, example)
        if endpoint.method == "PUT" and self._reads_back(endpoint, path):
            example = self.read[path]
        status, raw, headers = await self.call(endpoint, "example", path, _json(example))
        if endpoint.method == "POST":
            for _ in range(_RETRIES):
                conflicts = _conflicting_fields(status, raw, example)
                if not conflicts:
                    break
                example = _without(example, conflicts)
                status, raw, headers = await self.call(
                    endpoint, f"example, changed {', '.join(sorted(conflicts))}", path, _json(example)
                )
        if 200 <= status < 300:
            self._remember(endpoint, path, headers, _document(raw))

    def _remember(self, endpoint: Endpoint, path: str, headers: Mapping[str, str], document: Any) -> None:
        """Keep from a success what later routes need: created records, listed ids, read records."""
        if endpoint.method == "POST":
            values = self._created_values(endpoint, headers, document)
            if values:
                self.created.setdefault(endpoint.path, []).append(values)
        elif endpoint.method == "GET":
            self.read[path] = document
            first_id = _first_listed_id(document)
            for item in self.contract.endpoints():
                found = re.fullmatch(re.escape(endpoint.path) + r"/\{([^}/]+)\}", item.path)
                if found and first_id is not None:
                    self.listed[item.path] = {found.group(1): first_id}

    def _created_values(self, endpoint: Endpoint, headers: Mapping[str, str], document: Any) -> dict[str, str]:
        """URI values of the routes below a POST's path for what it created: from its Location, else from
        the answer's fields named like the parameters (0 and null are no ids, as Polaris' clients send)."""
        wanted = {
            name
            for e in self.contract.endpoints()
            if e.path.startswith(endpoint.path + "/")
            for name in _PARAM.findall(e.path[len(endpoint.path) :])
        }
        values: dict[str, str] = {}
        location = urlsplit(header_value(headers, "Location")).path
        item = self.contract.endpoint_at("GET", location) if location else None
        if item is not None:
            values.update((k, v) for k, v in (template_values(item.path, location) or {}).items() if k in wanted)
        if isinstance(document, dict):
            for name in wanted - values.keys():
                value = _field_like(document, name)
                if value not in (None, 0, "") and not isinstance(value, (dict, list, bool)):
                    values[name] = str(value)
        return values

    def _records(self, endpoint: Endpoint) -> list[dict[str, str]]:
        """The URI values of each record the route may apply to: those created below the nearest POST
        path above it (on top of the first record of POST paths further up); one empty record if none."""
        above = sorted((p for p in self.created if endpoint.path.startswith(p + "/")), key=len)
        if not above:
            return [{}]
        base: dict[str, str] = {}
        for path in above[:-1]:
            base.update(self.created[path][0])
        return [{**base, **record} for record in self.created[above[-1]]]

    def _fill(self, endpoint: Endpoint, record: Mapping[str, str], example: Any) -> str:
        """The route's path with each URI parameter filled (see the module's docstring for the order)."""
        listed = self.listed.get(endpoint.path, {}) if endpoint.method == "GET" else {}

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            param = endpoint.uri_params.get(name)
            named = _field_like(example, name) if isinstance(example, dict) else None
            if not (param is not None and param.type == "integer" and type(named) is int) or named == 0:
                named = None  # 0 is how Polaris clients write "no id"
            for candidate in (self.given.get(name), named, record.get(name), param and param.example, listed.get(name)):
                if candidate is not None:
                    return quote(str(candidate), safe=",")  # a value is one path segment, whatever it holds
            return _allowed_value(endpoint, name)

        return _PARAM.sub(value, endpoint.path)

    def _reads_back(self, endpoint: Endpoint, path: str) -> bool:
        """Whether the record GET answered at ``path`` is what this PUT takes (the same schema)."""
        if path not in self.read or endpoint.json_body is None:
            return False
        try:
            getter = self.contract.endpoint("GET", endpoint.path)
        except KeyError:
            return False
        answer = getter.responses.get(200)
        body = answer.bodies.get("application/json") if answer else None
        return body is not None and self.contract.schema_key(body) == self.contract.schema_key(endpoint.json_body)


def _examples(endpoint: Endpoint) -> list[Any]:
    """The request bodies to send: each RAML example (a POST's without ``id``: a fresh record each run),
    or ``[None]`` when there is none."""
    body = endpoint.json_body
    examples = [json.loads(json.dumps(e)) for e in body.all_examples()] if body is not None else []
    for example in examples:
        if isinstance(example, dict) and endpoint.method == "POST":
            example.pop("id", None)
    return examples or [None]


def _json(document: Any) -> bytes | None:
    return None if document is None else json.dumps(document).encode()


def _document(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _query(endpoint: Endpoint) -> str:
    """Values for the endpoint's required query parameters (none for optional ones): the RAML example,
    else a value the RAML allows."""
    values = {}
    for name, param in endpoint.query_params.items():
        if not param.required:
            continue
        if param.example is not None:
            values[name] = str(param.example).lower() if isinstance(param.example, bool) else str(param.example)
        elif param.enum:
            values[name] = str(param.enum[0])
        elif param.type == "boolean":
            values[name] = "false"
        elif param.type in ("integer", "number"):
            values[name] = str(int(param.minimum) if param.minimum is not None else 1)
        else:
            values[name] = "x"
    return ("?" + urlencode(values)) if values else ""


def _allowed_value(endpoint: Endpoint, name: str) -> str:
    """A value the RAML allows for a URI parameter, which no record is expected to have."""
    param = endpoint.uri_params.get(name)
    if param is not None and param.enum:
        return str(param.enum[0])
    if param is not None and param.type == "integer":
        return "999999"
    return str(uuid.uuid4())


def _unknown_last(endpoint: Endpoint, path: str) -> str:
    """``path`` with its last URI parameter replaced by a value no record has (the route's item lookup)."""
    names = _PARAM.findall(endpoint.path)
    values = template_values(endpoint.path, path) or {}
    values[names[-1]] = _allowed_value(endpoint, names[-1])
    return _PARAM.sub(lambda m: values[m.group(1)], endpoint.path)


def _normal(name: str) -> str:
    return name.lower().removesuffix("s")


def _field_like(document: dict[str, Any], name: str) -> Any:
    """The value of the field named like a URI parameter (``blockId`` ~ ``BlockID``), or None."""
    wanted = _normal(name)
    return next((value for key, value in document.items() if _normal(key) == wanted), None)


def _first_listed_id(document: Any) -> str | None:
    """The ``id`` of the first record of a FOLIO collection answer (``{"things": [...], "totalRecords"}``)."""
    if not isinstance(document, dict):
        return None
    for value in document.values():
        if isinstance(value, list) and value and isinstance(value[0], dict) and value[0].get("id"):
            return str(value[0]["id"])
    return None


def _conflicting_fields(status: int, raw: bytes, example: Any) -> set[str]:
    """The example's top-level fields a 422 names (FOLIO's ``errors[].parameters[].key``)."""
    document = _document(raw)
    if status != 422 or not isinstance(example, dict) or not isinstance(document, dict):
        return set()
    named = {
        p.get("key")
        for e in document.get("errors") or ()
        if isinstance(e, dict)
        for p in e.get("parameters") or ()
        if isinstance(p, dict)
    }
    return {key for key in named if isinstance(key, str) and key in example}


def _without(example: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """The example with ``fields`` dropped (the server allocates ids) or, for strings, made unique."""
    out = dict(example)
    for name in fields:
        if isinstance(out[name], str) and out[name]:
            out[name] = _unique_variant(out[name])
        else:
            del out[name]
    return out


def _unique_variant(value: str) -> str:
    """``value`` with its last characters replaced by random ones of the same kind (digits by digits,
    letters by letters), so that it keeps its length and pattern (a barcode stays a barcode)."""
    rng = random.Random()
    head, tail = value[:-6], value[-6:]

    def swap(ch: str) -> str:
        if ch.isdigit():
            return rng.choice("0123456789")
        if ch.isalpha():
            letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
            return letter.upper() if ch.isupper() else letter
        return ch

    return head + "".join(swap(ch) for ch in tail)
