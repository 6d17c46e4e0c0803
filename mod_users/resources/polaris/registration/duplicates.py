"""Patrons that may be the same person as the one being registered: the same first and last name and
birth date, or the same email address, or a phone number in common, all ignoring case (and surrounding
spaces). The database finds candidates through indexed fields; the rule itself is applied here, so that
the index's wider matching (it also ignores accents) decides nothing.

A secured patron (RecordStatusID 3) is listed too, since staff must know it may be the same person, but
with its PatronID and why it matched only: its details are not disclosed, as reading them is refused
elsewhere (409 "Patron record is secured.")."""

from __future__ import annotations

from typing import Any

from mod_users.cql import quote
from mod_users.resources.polaris import patrons
from mod_users.resources.polaris.ids import ORGANIZATION
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_PATRONS
from mod_users.storage.tenants import TenantSchema

NAME_AND_BIRTHDATE, EMAIL, PHONE = "NameAndBirthdate", "EmailAddress", "Phone"
PHONES = ("PhoneVoice1", "PhoneVoice2", "PhoneVoice3")
# What a client shows of each duplicate, in this order (DuplicatePatronDisplayProperties): the list of the
# seed's example answer, as it gives it (its labels of User1 and User4 are that library's).
DISPLAY_PROPERTIES = (
    {"Name": "PatronName", "Display": "Name"},
    {"Name": "Street", "Display": "Street"},
    {"Name": "City", "Display": "City"},
    {"Name": "PostalCode", "Display": "Postal Code"},
    {"Name": "BirthDate", "Display": "Birth Date"},
    {"Name": "Phone", "Display": "Voice Phone 1"},
    {"Name": "Email", "Display": "E-mail"},
    {"Name": "User1", "Display": "ID Number"},
    {"Name": "User4", "Display": "CybraryN Use Only (XXX,YYY)"},
    {"Name": "BranchName", "Display": "Branch"},
)
USER_FIELDS = ("User1", "User2", "User3", "User4", "User5")
# A prompt lists at most this many; candidates beyond a page of this many are not looked at.
MAX_SHOWN = 20
_MAX_CANDIDATES = 200


def _text(value: Any) -> str:
    return value.strip().casefold() if isinstance(value, str) else ""


def _birth_date(value: Any) -> str:
    # Birth dates are dates: the date as written, whatever time and offset follow it.
    return value[:10] if isinstance(value, str) else ""


def _phones(registration: dict[str, Any]) -> set[str]:
    return {_text(registration.get(field)) for field in PHONES} - {""}


def matches(wanted: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Why registration ``other`` may be the same person as ``wanted`` (empty: it is not)."""
    found = []
    if (
        _text(wanted.get("NameLast"))
        and _birth_date(wanted.get("Birthdate"))
        and all(_text(wanted.get(f)) == _text(other.get(f)) for f in ("NameFirst", "NameLast"))
        and _birth_date(wanted.get("Birthdate")) == _birth_date(other.get("Birthdate"))
    ):
        found.append(NAME_AND_BIRTHDATE)
    if _text(wanted.get("EmailAddress")) and _text(wanted.get("EmailAddress")) == _text(other.get("EmailAddress")):
        found.append(EMAIL)
    if _phones(wanted) & _phones(other):
        found.append(PHONE)
    return found


def _candidates_query(registration: dict[str, Any]) -> str | None:
    clauses = []
    last, birth = (registration.get("NameLast") or "").strip(), _birth_date(registration.get("Birthdate"))
    if last and birth:
        clauses.append(
            f"(Registration.NameLast=={quote(last)} and Registration.Birthdate=={quote(birth, prefix=True)})"
        )
    email = (registration.get("EmailAddress") or "").strip()
    if email:
        clauses.append(f"Registration.EmailAddress=={quote(email)}")
    phones = sorted({(registration.get(f) or "").strip() for f in PHONES} - {""})
    clauses += [f"Registration.{field}=={quote(phone)}" for field in PHONES for phone in phones]
    return " or ".join(clauses) or None


async def find(
    store: RecordStore, ts: TenantSchema, registration: dict[str, Any], patron_id: int | None
) -> list[dict[str, Any]]:
    """The stored patrons (other than ``patron_id``) that may be the same person, lowest PatronID first, as
    DuplicatePatrons entries."""
    query = _candidates_query(registration)
    if query is None:
        return []
    page = await store.search(ts, POLARIS_PATRONS, query, 0, _MAX_CANDIDATES)
    found = sorted(
        ((p, matches(registration, p.get("Registration") or {})) for p in page.records if p["PatronID"] != patron_id),
        key=lambda pair: pair[0]["PatronID"],
    )
    found = [(p, why) for p, why in found if why][:MAX_SHOWN]
    branches = await ORGANIZATION.get_many(store, ts, {p["OrganizationID"] for p, _ in found if not _secured(p)})
    return [_entry(p, why, branches) for p, why in found]


def _secured(patron: dict[str, Any]) -> bool:
    return patron.get("RecordStatusID") == patrons.SECURED


def withheld(entry: dict[str, Any]) -> bool:
    """Whether a DuplicatePatrons entry is a secured patron's, whose details are not shown."""
    return entry["PatronName"] is None  # every other entry has a name: NameLast is required


def describe(entry: dict[str, Any]) -> str:
    """One line of the duplicate prompt's AdditionalMessages about ``entry``."""
    why = ", ".join(entry["MatchedOn"])
    if withheld(entry):
        return f"A secured patron record (PatronID {entry['PatronID']}): same {why}; its details are not shown"
    return f"{entry['PatronName']} ({entry['Barcode']}): same {why}"


def _text_or_empty(value: Any) -> str:
    # The seed's example answer writes a value the patron does not have as "", not null.
    return value if isinstance(value, str) else ""


def _entry(patron: dict[str, Any], why: list[str], branches: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A DuplicatePatrons entry, in the shape of the seed's example (its first address; MatchedOn is ours)."""
    registration = patron.get("Registration") or {}
    address = next(iter(registration.get("Addresses") or []), None) or {}
    branch = branches.get(patron["OrganizationID"]) or {}
    entry = {
        "PatronID": patron["PatronID"],
        "PatronName": patrons.full_name(patron),
        "Barcode": patron["Barcode"],
        "Street": _text_or_empty(address.get("StreetOne")),
        "City": _text_or_empty(address.get("City")),
        "PostalCode": _text_or_empty(address.get("PostalCode")),
        "Phone": _text_or_empty(registration.get("PhoneVoice1")),
        "Email": _text_or_empty(registration.get("EmailAddress")),
        "BirthDate": registration.get("Birthdate"),
        "BranchID": patron["OrganizationID"],
        "BranchName": branch.get("Name"),
        "BranchAbr": branch.get("Abbreviation"),
        **{name: _text_or_empty(registration.get(name)) for name in USER_FIELDS},
        "MatchedOn": why,
    }
    if _secured(patron):
        # Only what staff need to know that it may be the same person and which record to ask about.
        entry = {**dict.fromkeys(entry), "PatronID": patron["PatronID"], "MatchedOn": why}
    return entry
