"""The checks of a patron registration, in order: two stops, then the prompts, each its own PAPIProcedureStep.

The two stops come first and run on every call, whatever step a reply answers: a client cannot answer its
way past missing fields or a barcode in use. Then the prompts, each a question a person decides: an empty
address, a postal code that does not fit its country, a passed address check date, the registration
charge and possible duplicate patrons. A reply that goes on (Answer 1 to step N) resumes after N: the
prompts up to and including N count as answered yes (that is how a client gets there), so none of them is
asked again. A reply to step 1 (Start) that goes on, as the seed's reply example is written, accepts the
first prompt this same body raises, the one the client was shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from mod_users.cql import quote
from mod_users.resources.polaris import organizations
from mod_users.resources.polaris.registration import duplicates, postal_codes
from mod_users.resources.polaris.registration.outcomes import Outcome, prompt, stop
from mod_users.resources.polaris.registration.papi import PromptType, ReturnCode, Step
from mod_users.resources.polaris.registration.proposal import CENT, instant, renews
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_PATRONS
from mod_users.storage.tenants import TenantSchema

_ADDRESS_LINES = ("StreetOne", "StreetTwo", "StreetThree", "City", "PostalCode")


@dataclass(frozen=True)
class Conversation:
    """Everything one call knows: the request, the stored patron (None when registering a new one), the
    record saving would store, and the registered branch with the organisations above it."""

    store: RecordStore
    ts: TenantSchema
    body: dict[str, Any]
    stored: dict[str, Any] | None
    record: dict[str, Any]
    organizations: list[dict[str, Any]]
    now: datetime

    @property
    def patron_id(self) -> int | None:
        return self.stored["PatronID"] if self.stored is not None else None

    @property
    def registration(self) -> dict[str, Any]:
        return self.record["Registration"]

    @property
    def at_a_branch(self) -> bool:
        return bool(self.organizations) and self.organizations[0]["OrganizationCodeID"] == organizations.BRANCH

    @cached_property
    def branch_charge(self) -> Decimal:
        """The registered branch's RegistrationCharge (its own or inherited; 0 when none or not at a branch),
        worked out once: step 15 and the save both need it."""
        if not self.at_a_branch:
            return Decimal(0)
        amount = Decimal(str(organizations.inherited(self.organizations, "RegistrationCharge") or 0)).quantize(CENT)
        return max(amount, Decimal(0))

    def charge_against(self, stored: dict[str, Any] | None) -> Decimal:
        """The registration charge saving over ``stored`` (None: a new patron) incurs: the branch's charge for
        a new patron or a renewal (a later ExpirationDate than ``stored`` has), else 0."""
        if stored is not None and not renews(stored, self.record):
            return Decimal(0)
        return self.branch_charge

    @property
    def charge(self) -> Decimal:
        """The charge step 15 asks about, judged against the patron as this call first read it. The save
        judges again against the locked record (:meth:`charge_against`): a concurrent call may have renewed
        the registration, and charged for it, in between."""
        return self.charge_against(self.stored)


def _blank(value: Any) -> bool:
    return not (isinstance(value, str) and value.strip())


# -- stops ---------------------------------------------------------------------------------------------
async def required_fields(c: Conversation) -> Outcome | None:
    """Every required field is there (a registered branch that is unknown or not a branch stops too: its
    settings decide whether a first name is required). The required booleans are not checked: the binding
    gives an absent one false, as Json.NET does (``resources/polaris/binding.py``)."""
    organization_id = c.body.get("OrganizationID")
    if organization_id and not c.at_a_branch:
        # PAPI's one code for both; the detail tells a typo from a library or system id.
        why = "is not a branch" if c.organizations else "is not a known organisation"
        return stop(
            ReturnCode.INVALID_ORGANIZATION,
            "Invalid organization ID specified.",
            [f"OrganizationID {organization_id} {why}"],
        )
    sent = c.body.get("Registration") or {}
    missing = ["Barcode"] if _blank(c.body.get("Barcode")) else []
    # Polaris' clients send 0 for an id they do not have (the DTO's ids are not nullable).
    missing += [name for name in ("PatronCodeID", "OrganizationID") if not c.body.get(name)]
    missing += ["Registration.NameLast"] if _blank(sent.get("NameLast")) else []
    if (
        c.at_a_branch
        and organizations.inherited(c.organizations, "NameFirstRequired")
        and sent.get("StaffAcceptedUseSingleName") is not True
        and _blank(sent.get("NameFirst"))
    ):
        missing.append("Registration.NameFirst")
    if missing:
        return stop(
            ReturnCode.REQUIRED_FIELDS_MISSING,
            f"Required fields are missing: {', '.join(missing)}.",
            missing,
        )
    return None


def barcode_in_use(barcode: str) -> Outcome:
    """The barcode stop (also what a save answers when a concurrent registration took the barcode first)."""
    return stop(
        ReturnCode.BARCODE_IN_USE,
        f"Duplicate barcode: {barcode} is already used by another patron.",
        barcode_in_use=True,
    )


async def barcode_free(c: Conversation) -> Outcome | None:
    """No other patron has the barcode (ignoring case, as the unique index does)."""
    barcode = c.record["Barcode"]
    page = await c.store.search(c.ts, POLARIS_PATRONS, f"Barcode=={quote(barcode)}", 0, 2)
    if any(p["PatronID"] != c.patron_id for p in page.records):
        return barcode_in_use(barcode)
    return None


# -- prompts -------------------------------------------------------------------------------------------
# The seed's text of the duplicate prompt (its example answer's Message), as it writes it.
DUPLICATES_MESSAGE = "Duplicate patrons are found, Do you want to continue?"


async def address_given(c: Conversation) -> Outcome | None:
    """Step 17: the patron has an address with something in it."""
    addresses = c.registration.get("Addresses") or []
    if any(not _blank(a.get(line)) for a in addresses for line in _ADDRESS_LINES):
        return None
    return prompt(
        Step.PATRON_ADDRESS_EMPTY,
        PromptType.YES_NO,
        ReturnCode.ADDRESS_EMPTY,
        "The patron has no address. Save the registration without one?",
    )


async def postal_codes_fit(c: Conversation) -> Outcome | None:
    """Step 35: each postal code has one of its country's formats."""
    misfits = await postal_codes.misfits(c.store, c.ts, c.registration.get("Addresses") or [])
    if not misfits:
        return None
    return prompt(
        Step.INVALID_POSTALCODE_FORMAT,
        PromptType.YES_NO,
        ReturnCode.POSTAL_CODE_FORMAT,
        "A postal code does not have the format of its country. Save it as it is?",
        misfits,
    )


async def patron_data_verified(c: Conversation) -> Outcome | None:
    """Step 34: once the address check date has passed, staff verify the patron's data with the patron."""
    check = instant(c.registration.get("AddrCheckDate"))
    if check is None or check > c.now:
        return None
    return prompt(
        Step.VERIFY_PATRON_DATA_BLOCK,
        PromptType.ACKNOWLEDGE,
        ReturnCode.VERIFY_PATRON_DATA,
        f"The address check date ({check.date().isoformat()}) has passed: verify the patron's name, "
        "address, phone numbers and email address with the patron.",
        ["Move AddrCheckDate forward to stop this reminder."],
    )


# The server keeps nothing between calls: the call that saves records the payment it carries itself, so a
# client that sends the payment fields with its reply to step 15 only, and the original body again at
# step 16, loses the payment. The prompt says so.
_PAYMENT_FIELDS_NOTE = [
    "Answer 1 records the charge, owed on the patron's account unless the call says how it is settled: "
    "PatronAccountTxnCode (1 charge to the account, 2 pay, 5 or 6 waive), PatronPaymentMethod and "
    "RegistrationPayment.",
    "Send these payment fields with this reply and again with every later call until the patron is saved: the "
    "server keeps nothing between calls, and a later call without them records the whole charge as owed.",
]


async def charge_accepted(c: Conversation) -> Outcome | None:
    """Step 15: the registration charge, when there is one."""
    if not c.charge:
        return None
    return prompt(
        Step.PATRON_REGISTRATION_CHARGE,
        PromptType.YES_NO,
        ReturnCode.REGISTRATION_CHARGE,
        f"A registration charge of {c.charge:.2f} applies. Accept it?",
        _PAYMENT_FIELDS_NOTE,
    )


async def no_duplicates(c: Conversation) -> Outcome | None:
    """Step 16: no other patron seems to be the same person."""
    found = await duplicates.find(c.store, c.ts, c.registration, c.patron_id)
    if not found:
        return None
    return prompt(
        Step.DUPLICATE_PATRONS,
        PromptType.YES_NO,
        ReturnCode.DUPLICATE_PATRONS,
        DUPLICATES_MESSAGE,
        [duplicates.describe(d) for d in found],
        found,
    )


@dataclass(frozen=True)
class Check:
    """One prompt: its step and the check that asks it."""

    step: Step
    run: Callable[[Conversation], Awaitable[Outcome | None]]


STOPS: tuple[Callable[[Conversation], Awaitable[Outcome | None]], ...] = (required_fields, barcode_free)
PROMPTS: tuple[Check, ...] = (
    Check(Step.PATRON_ADDRESS_EMPTY, address_given),
    Check(Step.INVALID_POSTALCODE_FORMAT, postal_codes_fit),
    Check(Step.VERIFY_PATRON_DATA_BLOCK, patron_data_verified),
    Check(Step.PATRON_REGISTRATION_CHARGE, charge_accepted),
    Check(Step.DUPLICATE_PATRONS, no_duplicates),
)
PROMPT_STEPS = tuple(check.step for check in PROMPTS)


async def run(c: Conversation, answered: Step, goes_on: bool) -> Outcome | None:
    """The first stop or prompt, going on after the prompt step ``answered`` when its answer ``goes_on``
    (else asking it again); ``answered`` START with an answer that goes on accepts the first prompt the
    checks raise. None when nothing stops or prompts and the record may be saved."""
    for stops in STOPS:
        if (outcome := await stops(c)) is not None:
            return outcome
    position = PROMPT_STEPS.index(answered) if answered in PROMPT_STEPS else -1
    first = position + 1 if goes_on else max(position, 0)
    accept_first = answered == Step.START and goes_on
    for check in PROMPTS[first:]:
        if (outcome := await check.run(c)) is None:
            continue
        if accept_first:  # the prompt the client was shown and answered
            accept_first = False
            continue
        return outcome
    return None
