"""Postal codes against their country's formats, as Polaris' Countries policy table writes them: ``9`` a
digit, ``Z`` a letter, ``A`` a letter or a digit; dashes and spaces stand for themselves (US ``99999`` and
``99999-9999``, Canada ``Z9Z 9Z9``). The formats are reference data (``/polaris/countries``)."""

from __future__ import annotations

from typing import Any

from mod_users.resources.polaris.ids import COUNTRY
from mod_users.storage.records import RecordStore
from mod_users.storage.tenants import TenantSchema

_CLASSES = {
    "9": lambda c: c.isascii() and c.isdigit(),
    "Z": lambda c: c.isascii() and c.isalpha(),
    "A": lambda c: c.isascii() and c.isalnum(),
}


def fits(code: str, mask: str) -> bool:
    """Whether ``code`` has the format ``mask`` (letters in either case)."""
    if len(code) != len(mask):
        return False
    return all(_CLASSES[m](c) if m in _CLASSES else c == m for c, m in zip(code, mask, strict=True))


def fits_any(code: str, masks: list[str]) -> bool:
    """Whether ``code`` has one of the formats; with no formats every code fits."""
    return not masks or any(fits(code, mask) for mask in masks)


async def misfits(store: RecordStore, ts: TenantSchema, addresses: list[dict[str, Any]]) -> list[str]:
    """One message per address whose postal code does not fit its country's formats. An address without a
    postal code, or whose country is unknown or has no formats, is not checked."""
    countries = await COUNTRY.get_many(store, ts, (a.get("CountryID") for a in addresses if a.get("PostalCode")))
    found = []
    for number, address in enumerate(addresses, start=1):
        code = (address.get("PostalCode") or "").strip()
        country_id = address.get("CountryID")
        if not code or country_id is None:
            continue
        country = countries.get(country_id)
        masks = country.get("PostalCodeFormats", []) if country else []
        if not fits_any(code, masks):
            found.append(
                f"Address {number}: postal code '{code}' does not have the format of {country['Name']} "
                f"({' or '.join(masks)})"
            )
    return found
