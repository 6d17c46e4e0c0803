"""Postal codes against their country's formats, as Polaris' Countries policy table writes them: ``9`` a
digit, ``Z`` a letter, ``A`` a letter or a digit; dashes and spaces stand for themselves (US ``99999`` and
``99999-9999``, Canada ``Z9Z 9Z9``). The formats are reference data (``/polaris/countries``).

An address names its country by CountryID or, as the seed's DtoPatronAddress does, by CountryName: the
country's Name or one of its Codes (ISO 3166-1, "US" and "USA"), in any letter case."""

from __future__ import annotations

from typing import Any

from mod_users.resources.polaris.ids import COUNTRY
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_COUNTRIES
from mod_users.storage.tenants import TenantSchema

_CLASSES = {
    "9": lambda c: c.isascii() and c.isdigit(),
    "Z": lambda c: c.isascii() and c.isalpha(),
    "A": lambda c: c.isascii() and c.isalnum(),
}
# More countries than there are; a bound on what one request reads.
_MAX_COUNTRIES = 1000


def fits(code: str, mask: str) -> bool:
    """Whether ``code`` has the format ``mask`` (letters in either case)."""
    if len(code) != len(mask):
        return False
    return all(_CLASSES[m](c) if m in _CLASSES else c == m for c, m in zip(code, mask, strict=True))


def fits_any(code: str, masks: list[str]) -> bool:
    """Whether ``code`` has one of the formats; with no formats every code fits."""
    return not masks or any(fits(code, mask) for mask in masks)


def _postal_code(address: dict[str, Any]) -> str:
    return (address.get("PostalCode") or "").strip()


def _country_name(address: dict[str, Any]) -> str:
    name = address.get("CountryName")
    return name.strip().casefold() if isinstance(name, str) else ""


def _by_name(countries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Countries by every name an address may give them (casefolded): their Name and their Codes."""
    return {
        spelling.strip().casefold(): country
        for country in countries
        for spelling in (country["Name"], *country.get("Codes", []))
    }


async def misfits(store: RecordStore, ts: TenantSchema, addresses: list[dict[str, Any]]) -> list[str]:
    """One message per address whose postal code does not fit its country's formats. An address without a
    postal code, or whose country is not named, unknown or without formats, is not checked; CountryID, when
    given, names the country, else CountryName."""
    checked = [a for a in addresses if _postal_code(a)]
    by_id = await COUNTRY.get_many(store, ts, (a["CountryID"] for a in checked if a.get("CountryID") is not None))
    named = any(a.get("CountryID") is None and _country_name(a) for a in checked)
    by_name = _by_name(await store.find(ts, POLARIS_COUNTRIES, "cql.allRecords=1", _MAX_COUNTRIES)) if named else {}
    found = []
    for number, address in enumerate(addresses, start=1):
        code = _postal_code(address)
        if not code:
            continue
        country_id = address.get("CountryID")
        country = by_id.get(country_id) if country_id is not None else by_name.get(_country_name(address))
        masks = country.get("PostalCodeFormats", []) if country else []
        if not fits_any(code, masks):
            found.append(
                f"Address {number}: postal code '{code}' does not have the format of {country['Name']} "
                f"({' or '.join(masks)})"
            )
    return found
