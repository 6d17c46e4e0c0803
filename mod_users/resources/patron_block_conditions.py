"""``/patron-block-conditions``: the conditions under which a patron is blocked, and what is blocked.

Generic CRUD plus FOLIO mod-users' one rule: a message to display and at least one blocked action go
together — neither is allowed without the other.
"""

from __future__ import annotations

from typing import Any

from mod_users.errors import folio_error
from mod_users.resources.crud import Collection
from mod_users.storage.tables import PATRON_BLOCK_CONDITIONS

_ACTIONS = ("blockBorrowing", "blockRenewals", "blockRequests")
MESSAGE_REQUIRED = "Message to be displayed is a required field if one or more blocked actions selected"
ACTION_REQUIRED = "One or more blocked actions must be selected for message to be displayed to be used"


def message_goes_with_blocked_actions(condition: dict[str, Any]) -> list[dict[str, Any]]:
    """A blocked action needs a message, and a message needs a blocked action."""
    message = str(condition.get("message") or "").strip()
    blocked = any(condition.get(action) is True for action in _ACTIONS)
    # FOLIO names the condition, not the field, in these errors: key "patron block condition id".
    if blocked and not message:
        return [folio_error(MESSAGE_REQUIRED, "patron block condition id", condition.get("id"))]
    if message and not blocked:
        return [folio_error(ACTION_REQUIRED, "patron block condition id", condition.get("id"))]
    return []


PATRON_BLOCK_CONDITIONS_API = Collection(
    path="/patron-block-conditions",
    item_param="patronBlockConditionId",
    table=PATRON_BLOCK_CONDITIONS,
    key="patronBlockConditions",
    noun="patron-block-condition",  # 404 "patron-block-condition not found", as the seed (003) writes it
    rules=(message_goes_with_blocked_actions,),
)

ROUTES = PATRON_BLOCK_CONDITIONS_API.routes()
