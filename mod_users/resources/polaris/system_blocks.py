"""System blocks: the blocks Polaris itself puts on a patron, as the blocks summary reports them and as a
client (DCB) clears them.

Two sources. The patron record's SystemBlocks mask, whose bits PAPI names (CreatePatronBlocks: 64
Self-Registration from PAC, 128 Address update from PAC, 256 Express Registration, 512 Offline Registration);
the bits from 1024 up are this module's. And two conditions Polaris derives from dates: the registration's
address check date has passed ("verify patron data"), and its expiration date has passed.

Each is reported with a BlockType that says what it is, the one DCB tells them apart by
(``PolarisConstants``: 3 VERIFY_PATRON_DATA_BLOCK, 100 REGISTRATION_HAS_EXPIRED_BLOCK):

| BlockType | BlockID | what | DELETE |
| --- | --- | --- | --- |
| 3 | 64, 128, 256, 512 | a "Verify patron" bit (PAPI's system block type 3) | clears the bit |
| 3 | 0 | the address check date has passed | cleared for that date |
| 100 | 0 | the registration has expired | cleared for that date |
| 4 | 1024, 2048, 4096 | collection agency, renewal, fee due (ours) | refused, -3502 |

A derived block has no id of its own: BlockID 0, which no library-defined block has (they start at 1), so
that ``DELETE blocks/100/0`` can never clear a library-defined block, for which Polaris accepts 100 as an
alias of 2. Polaris re-derives the date blocks at its next circulation check, so clearing one there lasts
until then; this module has no circulation check, so a cleared date block stays cleared until the date it
was derived from changes (an updated registration with a new AddrCheckDate or ExpirationDate that passes in
turn raises it again). The clearance is a row of its own, so the patron record keeps its dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mod_users.resources.polaris import errors
from mod_users.resources.polaris.ids import PATRON, row_id
from mod_users.storage.records import RecordStore, now_iso
from mod_users.storage.tables import POLARIS_SYSTEM_BLOCK_CLEARANCES
from mod_users.storage.tenants import TenantSchema

VERIFY_PATRON_DATA = 3
REGISTRATION_EXPIRED = 100
PROTECTED = 4
DERIVED_BLOCK_ID = 0
# The SystemBlocks bits: (BlockType, text). PAPI names 64 to 512; 1024 to 4096 are this module's.
BITS: dict[int, tuple[int, str]] = {
    64: (VERIFY_PATRON_DATA, "Self-registration from PAC"),
    128: (VERIFY_PATRON_DATA, "Address update from PAC"),
    256: (VERIFY_PATRON_DATA, "Express registration"),
    512: (VERIFY_PATRON_DATA, "Offline registration"),
    1024: (PROTECTED, "Sent to collection agency"),
    2048: (PROTECTED, "Registration renewal"),
    4096: (PROTECTED, "Registration fee due"),
}
# The blocks derived from a registration date: BlockType -> (the date, text).
DATES: dict[int, tuple[str, str]] = {
    VERIFY_PATRON_DATA: ("AddrCheckDate", "Verify patron data: the address check date has passed"),
    REGISTRATION_EXPIRED: ("ExpirationDate", "Registration has expired"),
}
KINDS = frozenset({VERIFY_PATRON_DATA, REGISTRATION_EXPIRED, PROTECTED})


@dataclass(frozen=True)
class SystemBlock:
    """One system block as the summary lists it."""

    block_type: int
    block_id: int
    description: str
    # The registration date a derived block comes from (None for a bit of the mask).
    date: str | None = None


def _passed(value: Any, now: datetime) -> bool:
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) <= now


def _clearance_id(patron_id: int, block_type: int) -> str:
    return row_id("system-block-clearance", patron_id, block_type)


async def of(store: RecordStore, ts: TenantSchema, patron: dict[str, Any]) -> list[SystemBlock]:
    """The patron's system blocks: the mask's bits (lowest first), then the date blocks not cleared."""
    mask = patron.get("SystemBlocks") or 0
    found = [SystemBlock(kind, bit, text) for bit, (kind, text) in BITS.items() if mask & bit]
    registration = patron.get("Registration") or {}
    now = datetime.now(UTC)
    due = [
        SystemBlock(kind, DERIVED_BLOCK_ID, text, registration[field])
        for kind, (field, text) in DATES.items()
        if _passed(registration.get(field), now)
    ]
    if due:
        cleared = await store.get_many(
            ts, POLARIS_SYSTEM_BLOCK_CLEARANCES, [_clearance_id(patron["PatronID"], b.block_type) for b in due]
        )
        done = {(c["BlockType"], c["Date"]) for c in cleared}
        found += [b for b in due if (b.block_type, b.date) not in done]
    return found


async def clear(
    tx: RecordStore, ts: TenantSchema, patron: dict[str, Any], block_type: int, block_id: int, who: str | None
) -> SystemBlock:
    """Remove the patron's system block ``block_type``/``block_id`` (the patron locked by the caller's
    transaction); the block that went. 400 -3502 for a block this API does not remove, 404 -3501 for one the
    patron does not have."""
    if block_type == PROTECTED:
        raise errors.system_block()
    present = {(b.block_type, b.block_id): b for b in await of(tx, ts, patron)}
    block = present.get((block_type, block_id))
    if block is None:
        kind = BITS.get(block_id, (None, ""))[0]
        if kind == PROTECTED and (patron.get("SystemBlocks") or 0) & block_id:
            raise errors.system_block()
        raise errors.unknown_block()
    if block.date is None:
        changed = {**patron, "SystemBlocks": (patron.get("SystemBlocks") or 0) & ~block_id}
        changed.pop("metadata", None)
        await tx.update(ts, PATRON.table, patron["id"], changed, who)
    else:
        clearance = {
            "id": _clearance_id(patron["PatronID"], block_type),
            "PatronID": patron["PatronID"],
            "BlockType": block_type,
            "Date": block.date,
            "ClearedAt": now_iso(),
        }
        if not await tx.update(ts, POLARIS_SYSTEM_BLOCK_CLEARANCES, clearance["id"], clearance, who):
            await tx.insert(ts, POLARIS_SYSTEM_BLOCK_CLEARANCES, clearance, who)
    return block


__all__ = [
    "BITS",
    "DATES",
    "DERIVED_BLOCK_ID",
    "KINDS",
    "PROTECTED",
    "REGISTRATION_EXPIRED",
    "VERIFY_PATRON_DATA",
    "SystemBlock",
    "clear",
    "of",
]
