"""The seed documents' tables, read from the copies kept in this folder (``tests/seeds/<file>``, copied from
the specification documents the project was created from, with their file names).

The documents are exports of web pages in three styles: the Polaris staff API pages (000 blocks, 001
associations: a section per call with "Name Type Required Description" tables, example answers, response
code tables), the registration page (002: pipe tables, JSON examples, C# enums) and the RAML console page of
FOLIO's patron-block-conditions (003: bulleted parameters, schemas and examples per response). Each reader
returns what the tables say, as written; the tests next to it compare that with the RAML, the schemas and
live answers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).parent
BLOCKS = "000_9c9e3777822d28e2.txt"
ASSOCIATIONS = "001_a63cb890290b34b1.txt"
REGISTRATION = "002_04ea5ab52a4d83cb.txt"
PATRON_BLOCK_CONDITIONS = "003_40de50eb742a05a1.txt"


def lines(name: str) -> list[str]:
    return (SEEDS / name).read_text(encoding="utf-8").splitlines()


def text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


def _json_block(rows: list[str], start: int) -> tuple[Any, int]:
    """The JSON value whose first line is ``rows[start]`` (a line that starts with "{" or "["), and the index
    of the line after it."""
    depth, end, chunk = 0, start, []
    while end < len(rows):
        row = rows[end]
        chunk.append(row)
        depth += row.count("{") + row.count("[") - row.count("}") - row.count("]")
        end += 1
        if depth <= 0:
            break
    return json.loads("\n".join(chunk)), end


# -- 000 and 001: the Polaris staff API pages ----------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """A row of a "Name Type Required Description" table."""

    name: str
    type: str
    required: str
    description: str


@dataclass
class Call:
    """One call of a Polaris staff API page: its parameters, form data, examples, codes and permissions."""

    method: str
    path: str  # as the page writes it after "/api/.../"
    params: list[Row] = field(default_factory=list)
    form: list[Row] = field(default_factory=list)
    request_example: Any = None
    response_fields: dict[str, str] = field(default_factory=dict)  # name -> the value's text, first seen
    response_example: Any = None
    codes: dict[int, str] = field(default_factory=dict)
    bullets: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)


_CALL = re.compile(r"^(GET|POST|PUT|DELETE) /api/\.\.\./(\S+)$")
_ROW = re.compile(r"^(\w+) (\w+) (Yes|No|\(see note\)) ?(.*)$")
_FIELD = re.compile(r'^\s+"(\w+)"\s*:\s*(.*?),?\s*$')
_CODE = re.compile(r"^(\d{3}) (.*)$")
_BULLET = re.compile(r"^\s*•\s*(.+?)\s*$")
_REQUIRES = re.compile(r"requires the (\w+) \(ID: \d+\) permission")
_PERMISSION = re.compile(r"^\w+_\w+$")


def polaris_calls(name: str) -> list[Call]:
    """Every call of page ``name`` (000 or 001), in the page's order."""
    rows, calls = lines(name), []
    call: Call | None = None
    mode, form_next, i = "", False, 0
    while i < len(rows):
        row = rows[i]
        i += 1
        if found := _CALL.match(row):
            call = Call(found[1], found[2])
            calls.append(call)
            mode, form_next = "", False
            continue
        if call is None:
            continue
        stripped = row.strip()
        if found := _REQUIRES.search(row):
            call.permissions.append(found[1])
        if stripped.endswith("Form Data"):
            form_next = True
        elif stripped == "Name Type Required Description":
            mode, form_next = ("form" if form_next else "params"), False
        elif stripped == "Required Permissions":
            mode = "permissions"
        elif stripped == "Form Data Example":
            mode = "request example"
        elif stripped == "Response Information":
            mode = "response"
        elif stripped == "HTTP Response Codes":
            mode = "codes"
        elif mode in ("params", "form") and (found := _ROW.match(stripped)):
            getattr(call, mode).append(Row(*found.groups()))
        elif mode == "permissions" and _PERMISSION.match(stripped):
            call.permissions.append(stripped)
        elif mode in ("request example", "response") and stripped in ("[", "{"):
            value, i = _json_block(rows, i - 1)
            if mode == "request example":
                call.request_example = value
            else:
                call.response_example = value
            mode = ""
        elif mode == "response" and (found := _FIELD.match(row)):
            call.response_fields.setdefault(found[1], found[2])
        elif mode == "codes" and (found := _CODE.match(stripped)):
            call.codes[int(found[1])] = found[2]
        elif mode == "codes" and (found := _BULLET.match(row)):
            call.bullets.append(found[1])
    return calls


def field_type(value_text: str) -> str:
    """The JSON type of an example value as a page writes it (dates unquoted in 000)."""
    if value_text.startswith('"'):
        return "string"
    if value_text in ("true", "false"):
        return "boolean"
    if value_text == "null":
        return "null"
    if re.fullmatch(r"-?\d+", value_text):
        return "integer"
    if re.fullmatch(r"-?\d+\.\d+", value_text):
        return "number"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+[+-]\d{2}:\d{2}", value_text):
        return "date-time"
    raise ValueError(f"unknown example value {value_text!r}")


# -- 002: the registration page ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Property:
    """A row of a "Property | Type | Nullable | Description" table."""

    name: str
    type: str
    nullable: bool
    description: str


@dataclass
class Registration:
    """What the registration page gives: its tables, examples and enums."""

    update_data: list[Property]  # DtoPatronRegUpdateData
    registration: list[Property]  # DtoPatronRegistration
    address: list[Property]  # DtoPatronAddress
    codes: dict[int, str]
    request_example: dict[str, Any]
    response_example: dict[str, Any]
    reply_example: dict[str, Any]  # the reply after the duplicate prompt, its Registration the request's
    enums: dict[str, dict[str, int]]


def _pipe_tables(rows: list[str]) -> list[list[list[str]]]:
    tables: list[list[list[str]]] = []
    for row in rows:
        if "|" not in row or row.startswith("{"):
            continue
        cells = [c.strip() for c in row.strip().strip("|").split("|")] + [""]  # the last row has no description
        if cells[0] in ("Name", "Property", "Code"):
            tables.append([])
        elif not set(cells[0]) <= {"-"} and tables:
            tables[-1].append(cells)
    return tables


def _properties(table: list[list[str]]) -> list[Property]:
    seen: dict[str, Property] = {}
    for cells in table:
        # The page lists some properties twice (PhoneVoice3 three times, EmailFormatID twice): once each here.
        seen.setdefault(cells[0], Property(cells[0], cells[1], cells[2] == "Yes", cells[3]))
    return list(seen.values())


def registration_page() -> Registration:
    rows = lines(REGISTRATION)
    tables = _pipe_tables(rows)
    examples, reply = [], None
    i = 0
    while i < len(rows):
        if rows[i] == "{" and rows[i + 1].startswith('"'):  # not an enum's body
            value, i = _json_block(rows, i)
            examples.append(value)
            continue
        if rows[i].startswith("{ ") and "DtoPatronRegistration: Registration" in rows[i]:
            reply = rows[i]
        i += 1
    request, response = examples
    # The reply example writes its registration as a placeholder ("DtoPatronRegistration: Registration"):
    # the request's, the same body again.
    reply_body = json.loads(reply.replace("DtoPatronRegistration: Registration", '"Registration": null'))
    reply_body["Registration"] = request["Registration"]
    enums = {
        name: {member: int(value) for member, value in re.findall(r"(\w+) = (-?\d+)", body)}
        for name, body in re.findall(r"public enum (\w+)\s*\{(.*?)\}", text(REGISTRATION), re.S)
    }
    return Registration(
        update_data=_properties(tables[1]),
        registration=_properties(tables[2]),
        address=_properties(tables[3]),
        codes={int(cells[0]): cells[1] for cells in tables[4]},
        request_example=request,
        response_example=response,
        reply_example=reply_body,
        enums=enums,
    )


# -- 003: FOLIO's patron-block-conditions RAML console page -------------------------------------------------
@dataclass
class FolioResponse:
    status: int
    media_type: str | None = None
    schema: Any = None
    example: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FolioMethod:
    method: str
    path: str
    query: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {"type", "default", ...}
    uri: dict[str, dict[str, str]] = field(default_factory=dict)
    body_schema: Any = None
    body_example: Any = None
    responses: dict[int, FolioResponse] = field(default_factory=dict)


_FOLIO_METHOD = re.compile(r"^(GET|POST|PUT|DELETE) (/patron-block-conditions\S*)$")
_PARAM = re.compile(r"^\s*•\s*([\w-]+): (required )?\((.*)\)$")


def _param(required: str | None, spec: str) -> dict[str, str]:
    kind, *pairs = spec.split(" - ")
    found = {"type": kind, "required": "yes" if required else "no"}
    for pair in pairs:
        key, _, value = pair.partition(": ")
        found[key] = value
    return found


def folio_methods() -> list[FolioMethod]:
    rows, methods = lines(PATRON_BLOCK_CONDITIONS), []
    method: FolioMethod | None = None
    response: FolioResponse | None = None
    mode, i = "", 0
    while i < len(rows):
        row, stripped = rows[i], rows[i].strip()
        i += 1
        if found := _FOLIO_METHOD.match(stripped):
            if method is None or (method.method, method.path) != (found[1], found[2]):
                method = FolioMethod(found[1], found[2])
                methods.append(method)
                response, mode = None, ""
            continue
        if method is None:
            continue
        if stripped in ("Query Parameters", "URI Parameters", "Headers"):
            mode = stripped
        elif (found := re.fullmatch(r"Response (\d{3})", stripped)) is not None:
            response = FolioResponse(int(found[1]))
            method.responses[response.status] = response
            mode = ""
        elif stripped.startswith("Media type: "):
            if response is not None:
                response.media_type = stripped.removeprefix("Media type: ")
        elif stripped == "Body":
            mode = ""
        elif stripped in ("Content:", "Example:") and mode not in ("Query Parameters", "URI Parameters", "Headers"):
            mode = stripped  # (a parameter's own example is not the body's)
        elif (found := _PARAM.match(row)) is not None and mode in ("Query Parameters", "URI Parameters", "Headers"):
            if mode == "Headers" and response is not None:
                response.headers[found[1]] = found[3]
            else:
                (method.query if mode == "Query Parameters" else method.uri)[found[1]] = _param(found[2], found[3])
        elif mode in ("Content:", "Example:") and stripped:
            value: Any
            if row.startswith(("{", "[")):
                value, i = _json_block(rows, i - 1)
            else:
                value = stripped
            target = "schema" if mode == "Content:" else "example"
            if response is None:
                setattr(method, f"body_{target}", value)
            else:
                setattr(response, target, value)
            mode = ""
    return methods
