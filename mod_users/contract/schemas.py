"""The JSON Schemas of ``schemas/``: one registry, compiled validators, every failing field reported.

Two validators per schema: fastjsonschema (compiled to Python code) answers "is this valid?" about
thirty times faster than jsonschema, which is what almost every request needs; only a body that fails
goes through jsonschema, which lists every failing field for the 422.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from mod_users.texts import MESSAGE, shorten

# Schemas get file URIs rooted at this fake folder so that relative $refs between them resolve
# exactly as they do on disk, whatever folder the project lives in.
_BASE = "file:///schemas/"
SCHEMA_SUFFIXES = (".json", ".schema")
# The most failing fields one answer lists.
MAX_FIELD_ERRORS = 100


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time (an offset is required), checked without an extra dependency."""
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.fullmatch(value):
        return False
    datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
    return True


def _fast_date_time(value: object) -> bool:
    try:
        return _is_date_time(value)
    except ValueError:
        return False


@dataclass(frozen=True)
class FieldError:
    """One failing field: where it is (dotted path), the value found, and what is wrong."""

    field: str
    value: Any
    message: str
    keyword: str


class SchemaRegistry:
    """Every schema under ``schemas_dir``, addressable by its path relative to that folder."""

    def __init__(self, schemas_dir: Path) -> None:
        self.root = schemas_dir.resolve()
        self._documents: dict[str, Any] = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.suffix in SCHEMA_SUFFIXES:
                rel = path.relative_to(self.root).as_posix()
                try:
                    self._documents[rel] = json.loads(path.read_text(encoding="utf-8"))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"schema {rel} is not valid JSON: {exc}") from exc
        self._validators: dict[str, Draft4Validator] = {}
        self._fast: dict[str, Callable[[Any], Any]] = {}

    @cached_property
    def _registry(self) -> Registry:
        resources = [(_BASE + rel, Resource(doc, specification=DRAFT4)) for rel, doc in self._documents.items()]
        return Registry().with_resources(resources)

    def paths(self) -> list[str]:
        """Relative paths of all schemas, sorted."""
        return list(self._documents)

    def document(self, rel: str) -> Any:
        """The parsed schema at ``rel``; KeyError when there is none."""
        return self._documents[rel]

    def relative(self, path: Path) -> str:
        """The registry key of a schema file path."""
        return path.resolve().relative_to(self.root).as_posix()

    def validator(self, rel: str) -> Draft4Validator:
        """A compiled validator for the schema at ``rel`` (built once, then cached)."""
        found = self._validators.get(rel)
        if found is None:
            if rel not in self._documents:
                raise KeyError(rel)
            found = Draft4Validator({"$ref": _BASE + rel}, registry=self._registry, format_checker=FORMATS)
            self._validators[rel] = found
        return found

    def compile(self, rel: str) -> Callable[[Any], Any]:
        """The fast validator of the schema at ``rel``, compiled once; compiling follows every $ref, so a
        broken one raises ValueError here (at start-up) rather than in a request."""
        found = self._fast.get(rel)
        if found is None:
            # fastjsonschema rewrites each $ref it resolves in place, so it gets copies: the registry's
            # documents are also what /_/openapi and jsonschema read.
            root = dict(copy.deepcopy(self.document(rel)), id=_BASE + rel)  # the base its $refs resolve against
            try:
                found = fastjsonschema.compile(
                    root,
                    handlers={"file": lambda uri: copy.deepcopy(self.document(uri[len(_BASE) :]))},
                    formats={"date-time": _fast_date_time},
                    use_default=False,
                )
            except (KeyError, fastjsonschema.JsonSchemaDefinitionException) as exc:
                raise ValueError(f"schema {rel} cannot be compiled (a broken $ref?): {exc}") from exc
            self._fast[rel] = found
        return found

    def errors(self, rel: str, instance: Any) -> list[FieldError]:
        """Every way ``instance`` fails the schema at ``rel`` (empty when it is valid)."""
        try:
            self.compile(rel)(instance)
            return []
        except fastjsonschema.JsonSchemaException:
            pass  # invalid (or a case the fast validator judges differently): ask jsonschema for the details
        # A body of thousands of bad entries would otherwise answer thousands of errors: the first ones
        # say what is wrong.
        failures = itertools.islice(self.validator(rel).iter_errors(instance), MAX_FIELD_ERRORS)
        found = [f for e in failures for f in _field_errors(e)][:MAX_FIELD_ERRORS]
        found.sort(key=lambda e: (e.field, e.keyword))
        return found


def _dotted(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _field_errors(error: ValidationError) -> list[FieldError]:
    """Name the fields a human would look at: for ``required`` and ``additionalProperties`` that is each
    missing or unexpected property, not the object that holds it."""
    path = list(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return [FieldError(_dotted([*path, missing]), None, "must not be null", keyword)]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = set(schema.get("properties", {}))
        return [
            FieldError(
                _dotted([*path, name]),
                error.instance[name],
                f'Unrecognized field "{shorten(name)}" (not allowed by the schema)',
                keyword,
            )
            for name in sorted(k for k in error.instance if k not in allowed)
        ]
    return [FieldError(_dotted(path), error.instance, shorten(_message(error), MESSAGE), keyword)]


def _json(value: Any, limit: int = 80) -> str:
    # Containers are cut before they are encoded: a 5,000-element array must not be written out whole
    # only to be cut to 80 characters.
    text = json.dumps(_head(value, limit), ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def _head(value: Any, limit: int) -> Any:
    """As much of ``value`` as can show in ``limit`` characters of JSON (a few entries of a container)."""
    if isinstance(value, list):
        return [_head(v, limit) for v in value[:limit]]
    if isinstance(value, dict):
        return {k[:limit]: _head(v, limit) for k, v in itertools.islice(value.items(), limit)}
    if isinstance(value, str):
        return value[: limit + 1]
    return value


def _message(error: ValidationError) -> str:
    """jsonschema's message with values written as JSON (null, true, ["a"]), not as Python writes them
    (None, True, ['a']): a client of a JSON API should read its own data back."""
    value, expected = _json(error.instance), error.validator_value
    match error.validator:
        case "type":
            types = expected if isinstance(expected, list) else [expected]
            return f"{value} is not of type {' or '.join(map(str, types))}"
        case "enum":
            return f"{value} is not one of {_json(expected, 200)}"
        case "minLength" | "maxLength":
            bound = "at least" if error.validator == "minLength" else "at most"
            return f"{value} must have {bound} {expected} characters"
        case "minimum" | "maximum":
            exclusive = isinstance(error.schema, dict) and error.schema.get(f"exclusive{error.validator.title()}")
            relation = (">" if exclusive else ">=") if error.validator == "minimum" else ("<" if exclusive else "<=")
            return f"{value} must be {relation} {expected}"
        case "format":
            return f"{value} is not a valid {expected}"
        case "pattern":
            return f"{value} does not match the pattern {_json(expected, 200)}"
        case "minItems" | "maxItems":
            bound = "at least" if error.validator == "minItems" else "at most"
            return f"{value} must have {bound} {expected} items"
        case "minProperties" | "maxProperties":
            bound = "at least" if error.validator == "minProperties" else "at most"
            return f"{value} must have {bound} {expected} properties"
        case "uniqueItems":
            return f"{value} has non-unique elements"
        case "anyOf" | "oneOf" | "not":
            return f"{value} is not valid under the schemas that {error.validator} allows"
    # Any other keyword: jsonschema's text, whose quoted value (Python's repr of it, however large) is cut.
    return error.message
