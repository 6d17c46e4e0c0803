"""Patrons as the Polaris-style routes see them: looked up by PatronID, refused when secured, and named the
way Polaris names them (their system blocks: :mod:`system_blocks`)."""

from __future__ import annotations

from typing import Any

from mod_users.resources.polaris import errors
from mod_users.resources.polaris.ids import PATRON
from mod_users.storage.records import RecordStore
from mod_users.storage.tenants import TenantSchema

FINAL, SECURED = 1, 3  # Polaris' RecordStatusID: 1 Final, 3 Secured


async def load(store: RecordStore, ts: TenantSchema, patron_id: int, *, for_update: bool = False) -> dict[str, Any]:
    """The patron, or 404 "Invalid Patron ID."; ``for_update`` locks it until the transaction ends, which
    serialises every change that concerns this patron."""
    patron = await PATRON.get(store, ts, patron_id, for_update=for_update)
    if patron is None:
        raise errors.invalid_patron()
    return patron


async def lock(store: RecordStore, ts: TenantSchema, patron_ids: list[int]) -> dict[int, dict[str, Any] | None]:
    """Lock several patrons, always in ascending PatronID order so that two transactions locking the same
    patrons cannot deadlock; unknown ones map to None."""
    return {n: await PATRON.get(store, ts, n, for_update=True) for n in sorted(set(patron_ids))}


def record_status(patron: dict[str, Any]) -> int:
    """The patron's RecordStatusID; a record that has none is an ordinary (final) one."""
    return patron.get("RecordStatusID") or FINAL


def refuse_secured(patron: dict[str, Any]) -> None:
    """409 "Patron record is secured." for a secured patron."""
    if patron.get("RecordStatusID") == SECURED:
        raise errors.secured()


def _names(patron: dict[str, Any]) -> tuple[str, str, str]:
    registration = patron.get("Registration") or {}
    return (
        registration.get("NameFirst") or "",
        registration.get("NameMiddle") or "",
        registration.get("NameLast") or "",
    )


def full_name(patron: dict[str, Any]) -> str:
    """Last name first, as Polaris' PatronFullName ("Babbage, Charles")."""
    first, middle, last = _names(patron)
    given = " ".join(p for p in (first, middle) if p)
    return f"{last}, {given}" if given else last


def first_last_name(patron: dict[str, Any]) -> str:
    """First and last name, as Polaris' PatronFirstLastName ("Charles Babbage")."""
    first, _, last = _names(patron)
    return " ".join(p for p in (first, last) if p)


def display_name(patron: dict[str, Any]) -> str:
    """First name first, as Polaris lists associated patrons ("Charles Babbage")."""
    return " ".join(p for p in _names(patron) if p)
