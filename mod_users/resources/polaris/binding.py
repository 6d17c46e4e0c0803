"""A request body bound as Polaris' ASP.NET Web API binds it to its DTOs, with Json.NET (Newtonsoft.Json).

Polaris clients send what Json.NET accepts: ``"0"`` for an Int, ``"4/11/2013"`` for a DateTime, ``"true"``
for a Boolean, and they leave out a Boolean they do not set (the DTO's field keeps ``false``). Before a
Polaris-style body is checked against its schema, each value is converted to the type its schema gives
(the DTO's type: ``integer`` Int32, ``number`` Decimal, ``boolean`` Boolean, ``string`` with format
``date-time`` DateTime, ``string`` String) by Json.NET's rules, and the converted, normalised value is what
the handler gets and what is stored. A value Json.NET would refuse is left as it is, so that the schema
refuses it (400). docs/polaris.md lists the rules with their sources (Json.NET's JsonReader,
JsonTextReader, JsonSerializerInternalReader and DateTimeUtils; .NET's Int32.TryParse, Decimal.TryParse,
Boolean.TryParse and DateTime.TryParse with the invariant culture, Json.NET's default).
"""

from __future__ import annotations

import posixpath
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from mod_users.contract.schemas import SchemaRegistry

INT32 = (-(2**31), 2**31 - 1)
DECIMAL_MAX = Decimal(2**96 - 1)  # System.Decimal.MaxValue
# .NET's white space for number parsing (NumberStyles.AllowLeadingWhite / AllowTrailingWhite).
_WS = "\t\n\x0b\x0c\r "
_W = "[\\t\\n\\x0b\\x0c\\r ]*"
# Int32.TryParse(s, NumberStyles.Integer, InvariantCulture): white space, a sign, ASCII digits.
_INTEGER = re.compile(f"{_W}[+-]?[0-9]+{_W}")
# Decimal.TryParse(s, NumberStyles.Number, InvariantCulture): white space, one leading or trailing sign,
# digits with "," group separators after the first digit, a "." decimal point.
_NUMBER = re.compile(f"{_W}(?P<lead>[+-]?)(?P<int>[0-9][0-9,]*)?(?:\\.(?P<frac>[0-9]*))?(?P<trail>[+-]?){_W}")
# Json.NET's own decimal parser (ConvertUtils.DecimalTryParse), tried next: exponents ("96.014e-05").
_EXPONENT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# Dates: ISO 8601 as DateTimeUtils reads it (and DateTime.TryParse's other ISO shapes: a space for the
# "T", minutes without seconds, a date alone), the invariant culture's month/day/year with an optional time
# of day, and Microsoft's "/Date(ms)/".
_ISO = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:[Tt ](?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,7}))?)?"
    r"(?P<z>[Zz]|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_US = re.compile(
    r"(?P<mo>[0-9]{1,2})/(?P<d>[0-9]{1,2})/(?P<y>[0-9]{4})"
    r"(?: +(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2}))?(?: *(?P<ampm>[AaPp][Mm]))?)?"
)
_MS_DATE = re.compile(r"/Date\((?P<ms>-?[0-9]+)(?P<z>[+-][0-9]{4})?\)/")


def _int32(value: Any) -> Any:
    if isinstance(value, str):
        if value == "":
            return None  # Json.NET reads "" as null (refused where the field is not nullable)
        if _INTEGER.fullmatch(value):
            number = int(value.strip(_WS))
            if INT32[0] <= number <= INT32[1]:
                return number
    return value


def _decimal(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    found = _NUMBER.fullmatch(value)
    if found and not (found["lead"] and found["trail"]) and (found["int"] or found["frac"]):
        sign = "-" if "-" in (found["lead"], found["trail"]) else ""
        text = f"{sign}{(found['int'] or '0').replace(',', '')}.{found['frac'] or '0'}"
    elif _EXPONENT.fullmatch(value):
        text = value
    else:
        return value
    try:
        number = Decimal(text)
    except InvalidOperation:
        return value
    if abs(number) > DECIMAL_MAX:
        return value
    # Stored as a JSON number; one without a fraction as an integer.
    return int(number) if number == number.to_integral_value() else float(number)


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        if value == "":
            return None
        # Boolean.TryParse: "True" or "False" in any letter case, white space around.
        return {"true": True, "false": False}.get(value.strip().casefold(), value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0  # Convert.ToBoolean of a JSON number: anything but zero is true
    return value


def _offset(text: str | None) -> timezone:
    if not text or text in "Zz":
        # Z, or no offset at all: Json.NET gives an Unspecified DateTime, which the server would read in
        # its own time zone; this module has none and reads it as UTC.
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _moment(found: re.Match[str], zone: timezone) -> datetime | None:
    parts = found.groupdict()
    hour = int(parts.get("h") or 0)
    ampm = (parts.get("ampm") or "").upper()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    fraction = (parts.get("f") or "").ljust(6, "0")[:6]  # .NET keeps 100 ns ticks; microseconds here
    try:
        return datetime(
            int(parts["y"]),
            int(parts["mo"]),
            int(parts["d"]),
            hour,
            int(parts.get("mi") or 0),
            int(parts.get("s") or 0),
            int(fraction),
            tzinfo=zone,
        )
    except ValueError:  # 4/31/2013, 25:00
        return None


def _date_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    text = value.strip()
    moment = None
    if found := _ISO.fullmatch(text):
        moment = _moment(found, _offset(found["z"]))
    elif found := _US.fullmatch(text):
        moment = _moment(found, UTC)
    elif found := _MS_DATE.fullmatch(text):
        zone = _offset(found["z"])
        try:
            moment = (datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=int(found["ms"]))).astimezone(zone)
        except OverflowError:
            moment = None
    if moment is None:
        return value
    # Written as the module writes dates: ISO 8601 with an offset, the fraction only as long as it needs.
    fraction = moment.microsecond
    return moment.isoformat(timespec="seconds" if not fraction else "milliseconds" if fraction % 1000 == 0 else "auto")


def _string(value: Any) -> Any:
    # JsonTextReader.ReadAsString gives a JSON integer its own text and true/false their names; a number
    # with a fraction or exponent would need the text as written, which the JSON parser does not keep.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()


def _scalar(node: dict[str, Any], value: Any) -> Any:
    types = _types(node) - {"null"}
    if len(types) != 1:
        return value
    kind = types.pop()
    if kind == "integer":
        return _int32(value)
    if kind == "number":
        return _decimal(value)
    if kind == "boolean":
        return _boolean(value)
    if kind == "string":
        return _date_time(value) if node.get("format") == "date-time" else _string(value)
    return value


# The value a .NET value-type field keeps when the JSON leaves it out: default(int), default(bool), ...
_DEFAULTS: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False}


class Binder:
    """Binds bodies against the schemas of one registry."""

    def __init__(self, schemas: SchemaRegistry) -> None:
        self._schemas = schemas

    def bind(self, rel: str, body: Any) -> Any:
        """``body`` (parsed JSON) bound to the schema at ``rel``: a new value, the input is not changed."""
        return self._value(rel, self._schemas.document(rel), body)

    def _resolve(self, rel: str, node: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Follow ``$ref``s to another schema file; None for a reference this binder does not follow."""
        while "$ref" in node:
            ref = node["$ref"]
            if "#" in ref:
                return None
            rel = posixpath.normpath(posixpath.join(posixpath.dirname(rel), ref))
            node = self._schemas.document(rel)
        return rel, node

    def _value(self, rel: str, node: Any, value: Any) -> Any:
        resolved = self._resolve(rel, node) if isinstance(node, dict) else None
        if resolved is None:
            return value
        rel, node = resolved
        alternatives = node.get("anyOf")
        if isinstance(alternatives, list) and "type" not in node:
            # "X or null": bound as the alternative of the value's own JSON kind (or the first, for a scalar)
            kind = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None
            chosen = next(
                (a for a in alternatives if isinstance(a, dict) and (kind is None or kind in _types(a))), None
            )
            return value if chosen is None else self._value(rel, chosen, value)
        if isinstance(value, dict) and "object" in _types(node):
            return self._object(rel, node, value)
        if isinstance(value, list) and "array" in _types(node) and isinstance(node.get("items"), dict):
            return [self._value(rel, node["items"], item) for item in value]
        if isinstance(value, (dict, list)):
            return value
        return _scalar(node, value)

    def _object(self, rel: str, node: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
        properties = node.get("properties", {})
        required = set(node.get("required", []))
        bound = {k: self._value(rel, properties[k], v) if k in properties else v for k, v in value.items()}
        for name, prop in properties.items():
            if name in bound or name in required:
                continue
            target = self._resolve(rel, prop)
            types = _types(target[1]) if target else set()
            if len(types) == 1 and (kind := next(iter(types))) in _DEFAULTS:
                bound[name] = _DEFAULTS[kind]
        return bound
