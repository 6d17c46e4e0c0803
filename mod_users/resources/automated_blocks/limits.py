"""``/patron-block-limits``: per patron group, the value at which a condition starts to block.

Generic CRUD plus mod-patron-blocks' rules, and two it lacks: the condition must exist, and a patron
group has at most one limit per condition (two would make the block depend on which one is read). The
value's bounds follow the condition's ``valueType`` (mod-patron-blocks' PatronBlockLimitsAPI, after
MODPATBLK-79 allowed 0 and MODPATBLK-92 raised the balance maximum): an Integer is a whole number from 0
to 999999, a Double a number from 0 to 999999.99.

A limit's write locks its condition row until it commits, and a condition's delete locks it too and
counts the limits using it (``patron_block_conditions.no_limit_uses_it``): neither can slip past the other.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mod_users.errors import folio_error
from mod_users.resources.crud import Collection
from mod_users.routing import Call
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import PATRON_BLOCK_CONDITIONS, PATRON_BLOCK_LIMITS
from mod_users.storage.tenants import TenantSchema

MIN_INT_LIMIT, MAX_INT_LIMIT = 0, 999_999
MIN_DOUBLE_LIMIT, MAX_DOUBLE_LIMIT = Decimal("0.00"), Decimal("999999.99")
# mod-patron-blocks' texts ("blank" is how its settings page leaves a limit unset).
INTEGER_OUT_OF_RANGE = f"Must be blank or an integer from {MIN_INT_LIMIT} to {MAX_INT_LIMIT}"
DOUBLE_OUT_OF_RANGE = f"Must be blank or a number from {MIN_DOUBLE_LIMIT} to {MAX_DOUBLE_LIMIT}"
NO_SUCH_CONDITION = "Patron block condition does not exist"
ONE_PER_GROUP = "A patron block limit for this patron group and condition already exists"
RULE_MESSAGES = (INTEGER_OUT_OF_RANGE, DOUBLE_OUT_OF_RANGE, NO_SUCH_CONDITION, ONE_PER_GROUP)


def value_error(value: float | int, value_type: str) -> str | None:
    """Why ``value`` cannot be a limit of a condition of ``value_type``, or None when it can."""
    number = Decimal(str(value))
    if value_type == "Double":
        return None if MIN_DOUBLE_LIMIT <= number <= MAX_DOUBLE_LIMIT else DOUBLE_OUT_OF_RANGE
    whole = number == number.to_integral_value()
    return None if whole and MIN_INT_LIMIT <= number <= MAX_INT_LIMIT else INTEGER_OUT_OF_RANGE


async def condition_exists_and_value_fits(
    store: RecordStore, ts: TenantSchema, limit: dict[str, Any]
) -> list[dict[str, Any]]:
    """The condition must exist (locked until the write commits); the value must fit its valueType."""
    condition = await store.get(ts, PATRON_BLOCK_CONDITIONS, limit["conditionId"], for_update=True)
    if condition is None:
        return [folio_error(NO_SUCH_CONDITION, "conditionId", limit["conditionId"])]
    problem = value_error(limit["value"], condition.get("valueType", "Integer"))
    return [folio_error(problem, "value", limit["value"])] if problem else []


async def one_per_group_and_condition(
    store: RecordStore, ts: TenantSchema, limit: dict[str, Any]
) -> list[dict[str, Any]]:
    """No other limit of the same patron group for the same condition (checked while the condition is
    locked, so two concurrent writes cannot both pass)."""
    query = f'patronGroupId=="{limit["patronGroupId"]}" and conditionId=="{limit["conditionId"]}"'
    others = [r for r in await store.find(ts, PATRON_BLOCK_LIMITS, query, 2) if r["id"] != limit.get("id")]
    return [folio_error(ONE_PER_GROUP, "patronGroupId", limit["patronGroupId"])] if others else []


async def _with_path_id(call: Call, limit: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """A replaced limit is the one its URL names (its id may be left out of the body)."""
    return limit if stored is None else dict(limit, id=stored["id"])


PATRON_BLOCK_LIMITS_API = Collection(
    path="/patron-block-limits",
    item_param="patronBlockLimitId",
    table=PATRON_BLOCK_LIMITS,
    key="patronBlockLimits",
    noun="Patron block limit",
    checks=(condition_exists_and_value_fits, one_per_group_and_condition),
    prepare=_with_path_id,
)

ROUTES = PATRON_BLOCK_LIMITS_API.routes()
