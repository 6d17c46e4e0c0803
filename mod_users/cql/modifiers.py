"""What relation and sort modifiers ask for.

Supported on relations: ``/ignoreCase`` ``/respectCase`` ``/ignoreAccents`` ``/respectAccents``
``/masked`` (the default) ``/unmasked`` (``* ? ^`` are literal) ``/string`` (the default) ``/number``
(compare numerically) and the array modifiers ``/@name`` ``/@name=value``. On sort keys:
``/sort.ascending`` ``/sort.descending`` (also without the ``sort.`` context prefix for the case and
accent ones), ``/string`` ``/number``. Anything else is rejected, so that a misspelt modifier is never
silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mod_users.cql.errors import invalid, unsupported
from mod_users.cql.nodes import Modifier

_CASE = {"ignorecase": False, "respectcase": True}
_ACCENTS = {"ignoreaccents": True, "respectaccents": False}


@dataclass
class Folding:
    """Case and accent folding a modifier asked for; None leaves it to the field's index (or default)."""

    case_sensitive: bool | None = None
    remove_accents: bool | None = None

    def apply(self, name: str) -> bool:
        """Record a case or accent modifier; False if ``name`` is neither."""
        if name in _CASE:
            self.case_sensitive = _CASE[name]
        elif name in _ACCENTS:
            self.remove_accents = _ACCENTS[name]
        else:
            return False
        return True


@dataclass
class RelationOptions:
    """The modifiers of one relation."""

    folding: Folding
    number: bool = False
    # An explicit /string: compare as text even where a number term would compare numerically.
    string: bool = False
    masked: bool = True
    array: tuple[Modifier, ...] = ()


@dataclass
class SortOptions:
    """The modifiers of one sort key."""

    folding: Folding
    descending: bool = False
    number: bool = False


def relation_options(modifiers: Iterable[Modifier]) -> RelationOptions:
    """Interpret a relation's modifiers; raise CQLError for unknown or misplaced ones."""
    options = RelationOptions(Folding())
    array: list[Modifier] = []
    for modifier in modifiers:
        name = modifier.name
        if name.startswith("@"):
            array.append(modifier)
            continue
        _no_value(modifier)
        if options.folding.apply(name):
            continue
        if name in ("string", "number"):
            options.number = name == "number"
            options.string = name == "string"
        elif name in ("masked", "unmasked"):
            options.masked = name == "masked"
        elif name.startswith("sort."):
            raise invalid(f"modifier /{name} belongs to a sortBy key, not to a relation", modifier.position)
        elif name in ("regexp", "substring"):
            raise unsupported(f"modifier /{name} is not supported", modifier.position)
        else:
            raise unsupported(f"unsupported relation modifier /{name}", modifier.position)
    options.array = tuple(array)
    return options


def sort_options(modifiers: Iterable[Modifier]) -> SortOptions:
    """Interpret a sort key's modifiers; raise CQLError for unknown ones."""
    options = SortOptions(Folding())
    for modifier in modifiers:
        _no_value(modifier)
        name = modifier.name
        if name in ("sort.ascending", "sort.descending"):
            options.descending = name == "sort.descending"
        elif options.folding.apply(name.removeprefix("sort.")):
            continue
        elif name in ("string", "number"):
            options.number = name == "number"
        else:
            raise unsupported(
                f"unsupported sort modifier /{name} (use /sort.ascending, /sort.descending, "
                "/number, /respectCase, /respectAccents)",
                modifier.position,
            )
    return options


def _no_value(modifier: Modifier) -> None:
    if modifier.comparison is not None:
        raise invalid(f"modifier /{modifier.name} takes no value", modifier.position)
