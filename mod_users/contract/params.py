"""Query and URI parameters checked against their RAML declarations: types, defaults, bounds, patterns."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mod_users.contract.raml import Param


class ParamError(ValueError):
    """A parameter is missing or malformed; ``str()`` is the text a client reads."""

    def __init__(self, name: str, value: str | None, reason: str) -> None:
        shown = value if value is None or len(value) <= 100 else value[:100] + "..."
        super().__init__(
            f"Invalid value for parameter '{name}': {reason}" + ("" if value is None else f" (got '{shown}')")
        )
        self.name = name


# ASCII digits and at most a leading minus, nothing around them: int() and float() also read other scripts'
# digits ("\u0661\u0660\u0660\u0662" is 1002), a plus sign and surrounding spaces, so a check built on them
# (or on \d) lets several spellings name one id.
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number(param: Param, raw: str) -> int | float:
    if param.type == "integer":
        if not _INTEGER.fullmatch(raw):
            raise ParamError(param.name, raw, "must be an integer")
        if raw.startswith("-") and param.minimum is not None and param.minimum >= 0:
            # "-0" is 0 to int(); where the RAML allows no negatives a minus is no spelling of a value
            raise ParamError(param.name, raw, f"must be greater than or equal to {param.minimum}")
        return int(raw)
    if not _NUMBER.fullmatch(raw):
        raise ParamError(param.name, raw, "must be a number")
    value = float(raw)
    if value != value or value in (float("inf"), float("-inf")):
        raise ParamError(param.name, raw, "must be a finite number")
    return value


def _convert(param: Param, raw: str) -> Any:
    if param.type in ("integer", "number"):
        value: Any = _number(param, raw)
        if param.minimum is not None and value < param.minimum:
            raise ParamError(param.name, raw, f"must be greater than or equal to {param.minimum}")
        if param.maximum is not None and value > param.maximum:
            raise ParamError(param.name, raw, f"must be less than or equal to {param.maximum}")
    elif param.type == "boolean":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise ParamError(param.name, raw, "must be true or false")
        value = lowered == "true"
    else:
        value = raw
        if param.pattern and not re.fullmatch(param.pattern, raw):
            raise ParamError(param.name, raw, f"must match the pattern {param.pattern}")
        if param.min_length is not None and len(raw) < param.min_length:
            raise ParamError(param.name, raw, f"must be at least {param.min_length} characters long")
        if param.max_length is not None and len(raw) > param.max_length:
            raise ParamError(param.name, raw, f"must be at most {param.max_length} characters long")
    if param.enum is not None and value not in param.enum:
        raise ParamError(param.name, raw, "must be one of " + ", ".join(map(str, param.enum)))
    return value


def parse_params(declared: Mapping[str, Param], given: Mapping[str, str]) -> dict[str, Any]:
    """Every declared parameter converted and checked, defaults filled in; undeclared ones are ignored
    (RMB ignores them too, and gateways add their own)."""
    out: dict[str, Any] = {}
    for name, param in declared.items():
        raw = given.get(name)
        if raw is None:
            if param.required:
                raise ParamError(name, None, "is required")
            out[name] = param.default
            continue
        out[name] = _convert(param, raw)
    return out
