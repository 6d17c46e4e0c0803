"""The patron record a registration conversation would save, built from the request alone (and, for an
update, the stored patron): the server keeps no conversation state, so every call rebuilds it.

The client owns Barcode, PatronCodeID, OrganizationID and the Registration (which replaces the stored one
as a whole, as Polaris' update DTO carries the whole registration). The server owns the rest: ids, who
(CreatorID and ModifierID, the Polaris staff user's integer id) and when, record status, system blocks,
circulation counts and account totals, and in the registration the names it derives (PatronFullName,
PatronFirstLastName) and what a patron merge records (Merge*); what a request says about those is
ignored. A password is never kept.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from mod_users.resources.polaris import patrons
from mod_users.resources.polaris.registration.papi import WAIVES, AccountTxnCode

# The result's patron fields (DtoPatronResult), in the order of the seed's example answer (RecordStatusID,
# which the example does not show, last but one).
PATRON_FIELDS = (
    "PatronID",
    "PatronCodeID",
    "OrganizationID",
    "CreatorID",
    "ModifierID",
    "Barcode",
    "SystemBlocks",
    "YTDCircCount",
    "LifetimeCircCount",
    "LastActivityDate",
    "ClaimCount",
    "LostItemCount",
    "ChargesAmount",
    "CreditsAmount",
    "RecordStatusID",
    "Registration",
)
# Registration fields the server keeps from the stored record whatever a request says: a registration
# never merges patrons.
_MERGE_FIELDS = ("MergeDate", "MergeUserID", "MergeBarcode")
_NEW_PATRON: dict[str, Any] = {
    "PatronID": None,
    "RecordStatusID": 1,
    "SystemBlocks": 0,
    "YTDCircCount": 0,
    "LifetimeCircCount": 0,
    "ClaimCount": 0,
    "LostItemCount": 0,
    "ChargesAmount": 0,
    "CreditsAmount": 0,
}
# Money is kept to the cent.
CENT = Decimal("0.01")


def iso(moment: datetime) -> str:
    """A date as the module writes them (ISO 8601, milliseconds, with offset)."""
    return moment.isoformat(timespec="milliseconds")


def instant(value: Any) -> datetime | None:
    """A date-time the schema accepted (offset required; ``t``/``z`` in either case), or None."""
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


def proposed(body: dict[str, Any], stored: dict[str, Any] | None, user_id: int | None, now: datetime) -> dict[str, Any]:
    """The record that saving ``body`` would store: over ``stored`` for an update, else a new patron
    (whose PatronID is None until it is allocated); ``user_id`` is the Polaris staff user (None: a FOLIO
    user, who has no integer id)."""
    base = dict(stored) if stored is not None else {**_NEW_PATRON, "CreatorID": user_id}
    kept = (stored or {}).get("Registration") or {}
    registration = {k: v for k, v in (body.get("Registration") or {}).items() if k != "Password"}
    # An Int that is not nullable in the DTO: 0 until a new patron's PatronID is allocated.
    registration["PatronID"] = base["PatronID"] or 0
    registration.update({name: kept.get(name) for name in _MERGE_FIELDS})
    names = {"Registration": registration}
    registration["PatronFullName"] = patrons.full_name(names) or None
    registration["PatronFirstLastName"] = patrons.first_last_name(names) or None
    registration["RegistrationDate"] = kept.get("RegistrationDate") if stored is not None else iso(now)
    registration["UpdateDate"] = iso(now)
    if stored is None and not registration.get("EntryDate"):
        registration["EntryDate"] = iso(now)
    barcode = body.get("Barcode")
    return {
        **base,
        # Scanners add line ends; a barcode is matched and stored without surrounding spaces.
        "Barcode": barcode.strip() if isinstance(barcode, str) else barcode,
        "PatronCodeID": body.get("PatronCodeID"),
        "OrganizationID": body.get("OrganizationID"),
        "ModifierID": user_id,
        "Registration": registration,
    }


def with_patron_id(record: dict[str, Any], patron_id: int, row_id: str) -> dict[str, Any]:
    """A new patron's record once its PatronID is allocated."""
    return {
        **record,
        "id": row_id,
        "PatronID": patron_id,
        "Registration": {**record["Registration"], "PatronID": patron_id},
    }


def renews(stored: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether an update renews the registration: its ExpirationDate is set and later than the stored one
    (or there was none)."""
    new = instant(record["Registration"].get("ExpirationDate"))
    old = instant((stored.get("Registration") or {}).get("ExpirationDate"))
    return new is not None and (old is None or new > old)


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else Decimal(0)


def _payment(amount: Decimal, body: dict[str, Any]) -> Decimal:
    """What the request pays of a charge of ``amount``: its RegistrationPayment, at most the charge."""
    return min(_decimal(body.get("RegistrationPayment")), amount).quantize(CENT)


def outstanding(amount: Decimal, body: dict[str, Any]) -> Decimal:
    """What accepting a charge of ``amount`` adds to ChargesAmount: the charge less the payment, nothing when
    it is waived."""
    if (body.get("PatronAccountTxnCode") or AccountTxnCode.CHARGE) in WAIVES:
        return Decimal(0)
    return amount - _payment(amount, body)


def with_charge(record: dict[str, Any], amount: Decimal, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The record with an accepted registration charge: the payment fields of the request are recorded (a
    payment above the charge as the charge), and what is not paid (nothing when waived) is added to
    ChargesAmount."""
    code = body.get("PatronAccountTxnCode") or AccountTxnCode.CHARGE
    owed = outstanding(amount, body)
    charge = {
        "Amount": float(amount),
        "PatronAccountTxnCode": int(code),
        "PatronPaymentMethod": body.get("PatronPaymentMethod"),
        "RegistrationPayment": float(_payment(amount, body)),
        "Outstanding": float(owed),
        "OrganizationID": record["OrganizationID"],
        "TransactionDate": iso(now),
    }
    total = (_decimal(record.get("ChargesAmount")) + owed).quantize(CENT)
    return {
        **record,
        "ChargesAmount": float(total),
        "RegistrationCharges": [*(record.get("RegistrationCharges") or []), charge],
    }


def patron_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The patron part of a DtoPatronResult."""
    return {field: record.get(field) for field in PATRON_FIELDS}
