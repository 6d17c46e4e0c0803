"""PUT patrons/{id} and POST patrons: updating and registering a patron in Polaris' conversational model.

Each call carries the whole registration and the step it replies to; the server keeps nothing between
calls, so any instance can answer any step. A call that completes saves the patron in one transaction,
after locking it (an update) and checking again that it is there and not secured, and whether the update
still renews it (what decides the registration charge); a call that prompts, stops or is answered no
changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from mod_users.resources.polaris import errors, organizations, patrons
from mod_users.resources.polaris.context import Staff, polaris_route, staff
from mod_users.resources.polaris.ids import PATRON
from mod_users.resources.polaris.registration import steps
from mod_users.resources.polaris.registration.outcomes import Outcome, cancelled, done
from mod_users.resources.polaris.registration.papi import (
    END,
    GO_ON,
    REGISTRATION_TXN_CODES,
    AccountTxnCode,
    PromptResult,
    Step,
)
from mod_users.resources.polaris.registration.proposal import outstanding, proposed, with_charge, with_patron_id
from mod_users.routing import Call, json_response
from mod_users.storage.errors import DuplicateRecord
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_PATRONS

# What a client reads when a request the schema allows is refused (a reply without an answer, another
# patron's id): how a client, or a test, tells these rules' rejections from a schema's.
RULE_MESSAGES = (
    "is required when replying to step",
    "in the body is not the patron of the URL",
    "cannot settle a registration charge",
)


async def _conversation(call: Call, who: Staff, stored: dict[str, Any] | None) -> steps.Conversation:
    body, now = call.body, datetime.now(UTC)
    branch = body.get("OrganizationID")
    lineage = await organizations.lineage(call.store, call.tenant, branch) if branch else []
    return steps.Conversation(
        call.store, call.tenant, body, stored, proposed(body, stored, who.polaris_user_id, now), lineage, now
    )


def _refuse_unusable_txn_code(body: dict[str, Any]) -> None:
    """400 for a PatronAccountTxnCode of Polaris' that does not settle a registration charge (a return, a
    refund, the system's auto-waive, ...). Checked on every call, so that a client learns it at once, not
    after answering the charge prompt."""
    code = body.get("PatronAccountTxnCode")
    if code is None or code in REGISTRATION_TXN_CODES:
        return
    *others, last = (f"{int(c)} ({c.label})" for c in REGISTRATION_TXN_CODES)
    raise errors.txn_code_not_for_registration(code, AccountTxnCode(code).label, f"{', '.join(others)} or {last}")


async def _reply(c: steps.Conversation) -> Outcome | None:
    """The answer before saving: a cancellation, a prompt or a stop; None when the record may be saved."""
    _refuse_unusable_txn_code(c.body)
    step, answer = Step(c.body["ProcedureStep"]), c.body.get("Answer")
    if step == Step.START:
        # The first call (the seed's sends Answer 0, which is ignored) or the seed's reply example, which
        # answers 1 with ProcedureStep 1: it accepts the prompt this body raises first.
        return await steps.run(c, Step.START, goes_on=answer in GO_ON)
    if answer is None or answer == PromptResult.NONE:
        raise errors.answer_required(step)
    if answer in END:
        return cancelled(step)
    return await steps.run(c, step, goes_on=answer in GO_ON)  # RETRY asks the same question again


def _charge_note(c: steps.Conversation, charge: Decimal) -> list[str]:
    if not charge:
        return []
    return [
        f"Registration charge of {charge:.2f} recorded; {outstanding(charge, c.body):.2f} added to the "
        "patron's charges."
    ]


def _charged(c: steps.Conversation, record: dict[str, Any], charge: Decimal) -> dict[str, Any]:
    """``record`` with the registration charge ``charge`` (0: none) accepted."""
    return with_charge(record, charge, c.body, c.now) if charge else record


# Saving a conversation's record, inside the transaction of the save: an insert or an update. Answers the
# saved record (None: there was nothing to update) and the registration charge it recorded (0: none), which
# the save decides from the record it locked, not from what the call read before.
Save = Callable[[RecordStore, steps.Conversation], Awaitable[tuple[dict[str, Any] | None, Decimal]]]


async def _converse(
    call: Call, who: Staff, stored: dict[str, Any] | None, save: Save, done_verb: str
) -> web.StreamResponse:
    """One call of a conversation about ``stored`` (None: a new patron): the checks, then, when none of them
    prompts or stops, ``save`` in one transaction."""
    c = await _conversation(call, who, stored)
    answered = c.body.get("Answer")
    outcome = await _reply(c)
    if outcome is not None:
        return json_response(outcome.answer(c.record, c.charge, answered))
    try:
        async with call.store.transaction(call.tenant) as tx:
            saved, charge = await save(tx, c)
    except DuplicateRecord:
        # A concurrent registration took the barcode after this call checked it; the unique index decided.
        return json_response(steps.barcode_in_use(c.record["Barcode"]).answer(c.record, c.charge, answered))
    if saved is None:  # cannot happen while the patron is locked
        raise errors.invalid_patron()
    outcome = done(f"Patron {saved['PatronID']} {done_verb}.", _charge_note(c, charge))
    return json_response(outcome.answer(saved, charge, answered))


async def register(call: Call) -> web.StreamResponse:
    """POST patrons: register a new patron (a new PatronID; the body's is ignored)."""
    who = await staff(call)

    async def insert(tx: RecordStore, c: steps.Conversation) -> tuple[dict[str, Any], Decimal]:
        patron_id = await PATRON.allocate(tx, c.ts)
        record = with_patron_id(c.record, patron_id, PATRON.row_id(patron_id))
        charge = c.charge_against(None)
        return await tx.insert(c.ts, POLARIS_PATRONS, _charged(c, record, charge), who.user_id), charge

    return await _converse(call, who, None, insert, "registered")


async def update(call: Call) -> web.StreamResponse:
    """PUT patrons/{id}: change a patron's registration."""
    who = await staff(call)
    stored = await patrons.load(call.store, call.tenant, call.uri["patronId"])
    patrons.refuse_secured(stored)
    for sent in (call.body.get("PatronID"), (call.body.get("Registration") or {}).get("PatronID")):
        if sent not in (None, 0, stored["PatronID"]):
            raise errors.patron_id_mismatch(sent, stored["PatronID"])

    async def replace(tx: RecordStore, c: steps.Conversation) -> tuple[dict[str, Any] | None, Decimal]:
        # Locked, then checked again: the patron may have been deleted or secured since the call began, and
        # a concurrent call may have renewed it (and been charged for it): the locked record decides.
        current = await patrons.load(tx, c.ts, stored["PatronID"], for_update=True)
        patrons.refuse_secured(current)
        charge = c.charge_against(current)
        record = _charged(c, proposed(c.body, current, who.polaris_user_id, c.now), charge)
        return await tx.update(c.ts, POLARIS_PATRONS, current["id"], record, who.user_id), charge

    return await _converse(call, who, stored, replace, "updated")


ROUTES = (
    polaris_route("POST", "/patrons", register),
    polaris_route("PUT", "/patrons/{patronId}", update),
)
