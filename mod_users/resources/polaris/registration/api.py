"""PUT patrons/{id} and POST patrons: updating and registering a patron in Polaris' conversational model.

Each call carries the whole registration and the step it replies to; the server keeps nothing between
calls, so any instance can answer any step. A call that completes saves the patron in one transaction,
after locking it (an update) and checking again that it is there and not secured; a call that prompts,
stops or is answered no changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from mod_users.resources.polaris import errors, organizations, patrons
from mod_users.resources.polaris.context import Staff, polaris_route, staff
from mod_users.resources.polaris.ids import PATRON
from mod_users.resources.polaris.registration import steps
from mod_users.resources.polaris.registration.outcomes import Outcome, cancelled, done
from mod_users.resources.polaris.registration.papi import PromptResult, Step
from mod_users.resources.polaris.registration.proposal import proposed, with_charge, with_patron_id
from mod_users.routing import Call, json_response
from mod_users.storage.errors import DuplicateRecord
from mod_users.storage.tables import POLARIS_PATRONS

# What a client reads when a request the schema allows is refused (a reply without an answer, another
# patron's id): how a client, or a test, tells these rules' rejections from a schema's.
RULE_MESSAGES = ("is required when replying to step", "in the body is not the patron of the URL")


async def _conversation(call: Call, who: Staff, stored: dict[str, Any] | None) -> steps.Conversation:
    body, now = call.body, datetime.now(UTC)
    branch = body.get("OrganizationID")
    lineage = await organizations.lineage(call.store, call.tenant, branch) if branch else []
    return steps.Conversation(call.store, call.tenant, body, stored, proposed(body, stored, who.user_id, now),
                              lineage, now)


async def _reply(c: steps.Conversation) -> Outcome | None:
    """The answer before saving: a cancellation, a prompt or a stop; None when the record may be saved."""
    step = Step(c.body["ProcedureStep"])
    if step != Step.START:
        answer = c.body.get("Answer")
        if answer is None:
            raise errors.answer_required(step)
        if answer == PromptResult.NO:
            return cancelled(step)
    return await steps.run(c, answered=step)


def _charge_note(amount: Decimal, outstanding: Decimal) -> list[str]:
    if not amount:
        return []
    return [f"Registration charge of {amount:.2f} recorded; {outstanding:.2f} added to the patron's charges."]


async def register(call: Call) -> web.StreamResponse:
    """POST patrons: register a new patron (a new PatronID; the body's is ignored)."""
    who = await staff(call)
    c = await _conversation(call, who, None)
    outcome = await _reply(c)
    if outcome is not None:
        return json_response(outcome.answer(c.record))
    amount = steps.charge_due(c)
    outstanding = Decimal(0)
    ts = call.tenant
    try:
        async with call.store.transaction(ts) as tx:
            patron_id = await PATRON.allocate(tx, ts)
            record = with_patron_id(c.record, patron_id, PATRON.row_id(patron_id))
            if amount:
                record, outstanding = with_charge(record, amount, c.body, c.now)
            saved = await tx.insert(ts, POLARIS_PATRONS, record, who.user_id)
    except DuplicateRecord:
        # A concurrent registration took the barcode after this call checked it; the unique index decided.
        return json_response(steps.barcode_in_use(c.record["Barcode"]).answer(c.record))
    return json_response(done(f"Patron {patron_id} registered.", _charge_note(amount, outstanding)).answer(saved))


async def update(call: Call) -> web.StreamResponse:
    """PUT patrons/{id}: change a patron's registration."""
    who = await staff(call)
    ts = call.tenant
    stored = await patrons.load(call.store, ts, call.uri["patronId"])
    patrons.refuse_secured(stored)
    for sent in (call.body.get("PatronID"), (call.body.get("Registration") or {}).get("PatronID")):
        if sent not in (None, 0, stored["PatronID"]):
            raise errors.patron_id_mismatch(sent, stored["PatronID"])
    c = await _conversation(call, who, stored)
    outcome = await _reply(c)
    if outcome is not None:
        return json_response(outcome.answer(c.record))
    amount = steps.charge_due(c)
    outstanding = Decimal(0)
    try:
        async with call.store.transaction(ts) as tx:
            # Locked, then checked again: the patron may have been deleted or secured since the call began.
            current = await patrons.load(tx, ts, stored["PatronID"], for_update=True)
            patrons.refuse_secured(current)
            record = proposed(c.body, current, who.user_id, c.now)
            if amount:
                record, outstanding = with_charge(record, amount, c.body, c.now)
            saved = await tx.update(ts, POLARIS_PATRONS, current["id"], record, who.user_id)
    except DuplicateRecord:
        return json_response(steps.barcode_in_use(c.record["Barcode"]).answer(c.record))
    if saved is None:  # cannot happen while the patron is locked
        raise errors.invalid_patron()
    message = f"Patron {saved['PatronID']} updated."
    return json_response(done(message, _charge_note(amount, outstanding)).answer(saved))


ROUTES = (
    polaris_route("POST", "/patrons", register),
    polaris_route("PUT", "/patrons/{patronId}", update),
)
