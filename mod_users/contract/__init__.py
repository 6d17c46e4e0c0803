"""The API contract: RAML files in ``ramls/`` and JSON Schemas in ``schemas/``, read at start-up.

The service takes its routes' parameters, bodies and responses from here, and serves the files back to
other modules (``/_/ramls``, ``/_/jsonSchemas``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from mod_users.contract.params import ParamError, parse_params
from mod_users.contract.raml import Body, Endpoint, Header, Param, RamlApi, RamlError, Response, load_apis
from mod_users.contract.schemas import FieldError, SchemaRegistry

__all__ = [
    "Body",
    "Contract",
    "Endpoint",
    "FieldError",
    "Header",
    "Param",
    "ParamError",
    "RamlApi",
    "RamlError",
    "Response",
    "SchemaRegistry",
    "load_contract",
    "parse_params",
]


@dataclass
class Contract:
    """All RAML APIs with their endpoints, and the schema registry they refer to."""

    ramls_dir: Path
    schemas: SchemaRegistry
    apis: list[RamlApi]

    def endpoints(self) -> list[Endpoint]:
        return [e for api in self.apis for e in api.endpoints]

    def endpoint(self, method: str, path: str) -> Endpoint:
        """The endpoint declared for ``method`` on the RAML path template ``path``; KeyError if none."""
        for e in self.endpoints():
            if e.method == method and e.path == path:
                return e
        raise KeyError(f"{method} {path}")

    def endpoint_at(self, method: str, path: str) -> Endpoint | None:
        """The endpoint whose RAML path template a concrete ``path`` fits (``{x}`` one segment), or None."""
        for e in self.endpoints():
            if e.method == method and _template_regex(e.path).fullmatch(path):
                return e
        return None

    def schema_key(self, body: Body | None) -> str | None:
        """The registry key of a body's schema (None for a body without one)."""
        if body is None or body.schema is None:
            return None
        return self.schemas.relative(body.schema)


@functools.lru_cache(maxsize=256)
def _template_regex(template: str) -> re.Pattern[str]:
    """``template``'s path as a regex, each ``{name}`` a group of that name (one non-empty segment)."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "".join(f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
    )


def template_values(template: str, path: str) -> dict[str, str] | None:
    """The URI parameter values of a concrete ``path``, or None when it does not fit ``template``."""
    found = _template_regex(template).fullmatch(path)
    return None if found is None else found.groupdict()


def load_contract(ramls_dir: Path, schemas_dir: Path) -> Contract:
    """Read every RAML API and schema; raise RamlError/ValueError naming the file that is wrong."""
    schemas = SchemaRegistry(schemas_dir)
    apis = load_apis(ramls_dir, schemas_dir)
    if not apis:
        raise RamlError(f"no RAML 1.0 API files in {ramls_dir}")
    contract = Contract(ramls_dir.resolve(), schemas, apis)
    for endpoint in contract.endpoints():
        for body in [*endpoint.bodies.values(), *(b for r in endpoint.responses.values() for b in r.bodies.values())]:
            key = contract.schema_key(body)
            if key is not None:
                schemas.compile(key)  # now: a broken $ref fails start-up, not a request
    return contract
