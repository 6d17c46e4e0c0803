"""Polaris integer ids, and the row ids derived from them.

Polaris names its records by integers (OrganizationID, BlockID, WorkstationID, PatronID, CountryID). Each
row's uuid is derived from the kind of record and that integer (uuid5), so a lookup by Polaris id, or by a set
of them, is a primary-key lookup and no integer can be stored twice. New integers come from per-tenant sequences;
an explicit id sent to the configuration API moves its sequence past it, sample data is stored as it is (its
sequences do not move), and allocation takes the lowest free number after a taken one (see
``RecordStore.claim_free_number``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mod_users.errors import ValidationFailed, folio_error
from mod_users.routing import Call
from mod_users.storage.records import INT32_MAX, RecordStore
from mod_users.storage.tables import (
    POLARIS_BLOCK_DESCRIPTION_IDS,
    POLARIS_BLOCK_DESCRIPTIONS,
    POLARIS_COUNTRIES,
    POLARIS_COUNTRY_IDS,
    POLARIS_ORGANIZATION_IDS,
    POLARIS_ORGANIZATIONS,
    POLARIS_PATRON_IDS,
    POLARIS_PATRONS,
    POLARIS_WORKSTATION_IDS,
    POLARIS_WORKSTATIONS,
    Table,
)
from mod_users.storage.tenants import TenantSchema

# Fixed forever: changing it would orphan every stored Polaris record.
NAMESPACE = uuid.UUID("679df5c5-9abb-4b7c-92cd-0a243271e00b")
# What a client reads when an id breaks a rule (text fragments: the messages name the field and value).
ID_CANNOT_CHANGE = "cannot be changed"
ID_IS_DERIVED = "id is derived from"


def row_id(kind: str, *numbers: int) -> str:
    """The uuid of the row for ``kind`` and its integer key (``row_id("patron", 5)``)."""
    return str(uuid.uuid5(NAMESPACE, ":".join([kind, *(str(int(n)) for n in numbers)])))


@dataclass(frozen=True)
class IdKind:
    """A kind of record named by a Polaris integer: the JSON field, its table and its sequence."""

    kind: str
    field: str
    table: Table
    sequence: str

    def row_id(self, number: int) -> str:
        return row_id(self.kind, number)

    async def get(
        self, store: RecordStore, ts: TenantSchema, number: Any, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        """The record with Polaris id ``number``, or None (also for something that is not an integer)."""
        if not isinstance(number, int) or isinstance(number, bool):
            return None
        return await store.get(ts, self.table, self.row_id(number), for_update=for_update)

    async def get_many(self, store: RecordStore, ts: TenantSchema, numbers: Iterable[Any]) -> dict[int, dict[str, Any]]:
        """The records with these Polaris ids, by id, in one primary-key lookup (unknown ones, and anything
        that is not an integer, are left out)."""
        wanted = sorted({n for n in numbers if isinstance(n, int) and not isinstance(n, bool)})
        found = await store.get_many(ts, self.table, [self.row_id(n) for n in wanted])
        return {record[self.field]: record for record in found}

    async def allocate(self, store: RecordStore, ts: TenantSchema) -> int:
        """A new integer id that no stored record has; 422 when every 32-bit id is taken."""
        number = await store.next_value(ts, self.sequence)
        if await store.get(ts, self.table, self.row_id(number)) is None:
            return number  # the usual case: one sequence step and one primary-key lookup
        # Taken (an explicit id, or the sequence started over past the top): one statement finds the
        # lowest free number and moves the sequence there.
        found = await store.claim_free_number(ts, self.table, self.field, self.sequence)
        if found is None:
            raise ValidationFailed(
                [folio_error(f"every {self.field} from 1 to {INT32_MAX} is taken; none can be allocated", self.field)]
            )
        return found

    async def prepare(self, call: Call, record: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
        """Fill the integer id (allocated when a new record has none) and the row id derived from it.

        On replace (``stored`` given) the integer may be left out; it cannot be changed.
        """
        number = record.get(self.field)
        if stored is not None:
            if number is not None and number != stored[self.field]:
                raise ValidationFailed([folio_error(f"{self.field} {ID_CANNOT_CHANGE}", self.field, number)])
            return {**record, "id": stored["id"], self.field: stored[self.field]}
        store, ts = call.store, call.tenant
        if number is None:
            number = await self.allocate(store, ts)
        else:
            await store.advance_sequence(ts, self.sequence, number)
            if await self.get(store, ts, number) is not None:
                raise ValidationFailed([folio_error(f"{self.field} {number} already exists", self.field, number)])
        rid = self.row_id(number)
        if record.get("id") is not None and str(record["id"]).lower() != rid:
            raise ValidationFailed(
                [folio_error(f"{ID_IS_DERIVED} {self.field}: leave it out or send {rid}", "id", record["id"])]
            )
        return {**record, "id": rid, self.field: number}


ORGANIZATION = IdKind("organization", "OrganizationID", POLARIS_ORGANIZATIONS, POLARIS_ORGANIZATION_IDS)
BLOCK_DESCRIPTION = IdKind("block-description", "BlockID", POLARIS_BLOCK_DESCRIPTIONS, POLARIS_BLOCK_DESCRIPTION_IDS)
WORKSTATION = IdKind("workstation", "WorkstationID", POLARIS_WORKSTATIONS, POLARIS_WORKSTATION_IDS)
PATRON = IdKind("patron", "PatronID", POLARIS_PATRONS, POLARIS_PATRON_IDS)
COUNTRY = IdKind("country", "CountryID", POLARIS_COUNTRIES, POLARIS_COUNTRY_IDS)
