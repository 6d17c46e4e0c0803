"""The contract (RAML and schemas) as the seed tests compare it with the documents: a Polaris page's path as
our RAML template, a schema property's types with ``$ref``s followed, and the seeds' type names as JSON
Schema types."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from mod_users.config import PROJECT_ROOT
from mod_users.contract import Endpoint, load_contract
from mod_users.resources.polaris.context import PREFIX

CONTRACT = load_contract(PROJECT_ROOT / "ramls", PROJECT_ROOT / "schemas")
SCHEMAS = CONTRACT.schemas

# The pages' path parameters under the names our RAML gives them.
PATH_PARAMETERS = {"id": "patronId", "patronid": "patronId", "blockid": "blockId", "blocktype": "blockType"}
# The seeds' types as JSON Schema types; "date-time" is a string with that format.
SEED_TYPES = {
    "Integer": "integer",
    "Int": "integer",
    "Byte": "integer",
    "bool": "boolean",
    "Bool": "boolean",
    "Boolean": "boolean",
    "Decimal": "number",
    "String": "string",
    "DateTime": "date-time",
    "Datetime": "date-time",
    "DtoPatronRegistration": "object",
    "Array of DtoPatronAddress": "array",
    "DtoPatronAssociationInfo": "array",  # "Array of DtoPatronAssociationInfo objects"
}


def template(seed_path: str) -> str:
    """Our RAML path template for a page's path ("patrons/{patronid}/blocks/stops/{blockid}")."""
    path = seed_path.split("?", 1)[0]
    if path == "patrons/id":  # the registration page writes its path parameter without braces
        path = "patrons/{id}"
    path = re.sub(r"\{(\w+)\}(,\{\1\})+", "{linkedPatronIds}", path)  # DELETE's list of association ids
    path = re.sub(r"\{(\w+)\}", lambda m: "{" + PATH_PARAMETERS.get(m[1], m[1]) + "}", path)
    return f"{PREFIX}/{path}"


def endpoint(method: str, seed_path: str) -> Endpoint:
    return CONTRACT.endpoint(method, template(seed_path))


def resolve(rel: str, node: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Follow ``$ref``s (to other files) from ``node`` of schema ``rel``."""
    while "$ref" in node:
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(rel), node["$ref"]))
        node = SCHEMAS.document(rel)
    return rel, node


def types_of(node: dict[str, Any]) -> set[str]:
    """A schema node's types (those of its ``anyOf`` alternatives too), "date-time" for a string of that
    format."""
    kind = node.get("type", [])
    found = set(kind) if isinstance(kind, list) else {kind}
    for alternative in node.get("anyOf", ()):
        found |= types_of(alternative)
    if node.get("format") == "date-time":
        found = (found - {"string"}) | {"date-time"}
    return found


def properties(rel: str, *path: str) -> dict[str, dict[str, Any]]:
    """The properties of schema ``rel`` (the items' when it is an array), or of the object its properties
    ``path`` lead to ("Registration", "Addresses"), each with its ``$ref`` followed."""
    rel, node = resolve(rel, SCHEMAS.document(rel))
    for name in (None, *path):
        if name is not None:
            rel, node = resolve(rel, node["properties"][name])
        # A body that may also be null (AMF accepts a union only as anyOf): its array alternative.
        node = next((a for a in node.get("anyOf", ()) if "array" in types_of(a)), node)
        if "array" in types_of(node) and isinstance(node.get("items"), dict):
            rel, node = resolve(rel, node["items"])
    return {name: resolve(rel, prop)[1] for name, prop in node.get("properties", {}).items()}


def body_schema(end: Endpoint) -> str:
    key = CONTRACT.schema_key(end.json_body)
    assert key is not None, f"{end.method} {end.path} has no body schema"
    return key


def answer_schema(end: Endpoint, status: int = 200) -> str:
    key = CONTRACT.schema_key(end.responses[status].bodies.get("application/json"))
    assert key is not None, f"{end.method} {end.path} {status} has no answer schema"
    return key


def json_type(value: Any) -> str:
    """The JSON Schema type of a value of an example."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "date-time" if re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", value) else "string"
    return "array" if isinstance(value, list) else "object"


def fits(value_type: str, schema_types: set[str]) -> bool:
    """Whether a value of JSON type ``value_type`` has a place among ``schema_types`` (an integer is a
    number, a date-time a string where the schema does not say date-time)."""
    if value_type in schema_types:
        return True
    return (value_type == "integer" and "number" in schema_types) or (
        value_type == "date-time" and "string" in schema_types
    )


def raml_example_message(end: Endpoint, status: int) -> str:
    """The Message of the RAML's example Polaris error for ``status``."""
    example = end.responses[status].bodies["application/json"].example
    return example["value"]["Message"] if "value" in example else example["Message"]
