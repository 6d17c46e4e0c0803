"""Patron associations, Polaris-style: list, add, change and remove links between patrons.

Storage: an association of A and B is two rows, A->B and B->A, each holding its side's BlockMe and
AllowMe and both the same Note; a row's id is derived from (PatronID, LinkedPatronID), so a direction can
exist only once. Symmetry is the two rows written and removed together; there is no transitivity because
nothing follows links beyond one row. Every change locks all patrons it concerns, in PatronID order, before
it reads anything, so concurrent changes to the same patrons run one after the other (the second one sees
the first one's rows) and cannot deadlock; all entries of a request land in one transaction or none do.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from mod_users.resources.polaris import errors, organizations, patrons
from mod_users.resources.polaris.context import MAX_ROWS, Staff, polaris_route, staff
from mod_users.resources.polaris.ids import PATRON, row_id
from mod_users.routing import Call, json_response
from mod_users.state import SETTINGS
from mod_users.storage.records import RecordStore, now_iso
from mod_users.storage.tables import POLARIS_PATRON_ASSOCIATIONS
from mod_users.storage.tenants import TenantSchema

NOTE_LIMIT = 255
# ASCII digits only: \d also matches other scripts' digits, which int() reads as the same ids.
_ID_LIST = re.compile(r"[0-9]{1,10}(,[0-9]{1,10})*")
log = logging.getLogger(__name__)


def _row_id(patron_id: int, linked_id: int) -> str:
    return row_id("association", patron_id, linked_id)


async def _rows(store: RecordStore, ts: TenantSchema, query: str) -> list[dict[str, Any]]:
    return await store.find(ts, POLARIS_PATRON_ASSOCIATIONS, query, MAX_ROWS)


async def count(store: RecordStore, ts: TenantSchema, patron_id: int) -> int:
    """How many associations the patron has."""
    return await store.count(ts, POLARIS_PATRON_ASSOCIATIONS, f"PatronID=={int(patron_id)}")


async def blocking_patrons(store: RecordStore, ts: TenantSchema, patron_id: int) -> list[dict[str, Any]]:
    """The associated patrons whose blocks block this patron (BlockMe on its side), in PatronID order.
    Only direct associations count: Polaris checks blocks one level deep."""
    rows = await _rows(store, ts, f"PatronID=={int(patron_id)} and BlockMe==true")
    found = await PATRON.get_many(store, ts, (r["LinkedPatronID"] for r in rows))
    return [found[n] for n in sorted(found)]


async def listing(store: RecordStore, ts: TenantSchema, patron_id: int) -> list[dict[str, Any]]:
    """The patron's associations as Polaris lists them, most recently changed first."""
    rows = await _rows(store, ts, f"PatronID=={int(patron_id)}")
    linked = await PATRON.get_many(store, ts, (r["LinkedPatronID"] for r in rows))
    branches = await organizations.names(store, ts, {p["OrganizationID"] for p in linked.values()})
    rows.sort(key=lambda r: (r["ModificationDate"], r["LinkedPatronID"]), reverse=True)
    out = []
    for row in rows:
        other = linked.get(row["LinkedPatronID"])
        if other is None:  # removed with its patron in the same transaction that removes this row
            continue
        out.append(
            {
                "LinkedPatronID": other["PatronID"],
                "Barcode": other["Barcode"],
                "PatronName": patrons.display_name(other),
                "BranchName": branches.get(other["OrganizationID"]),
                "Note": row.get("Note"),
                "BlockMe": bool(row.get("BlockMe")),
                "AllowMe": bool(row.get("AllowMe")),
                "RecordStatusID": patrons.record_status(other),
                "OrganizationID": other["OrganizationID"],
            }
        )
    return out


async def _locked(
    tx: RecordStore, ts: TenantSchema, patron_id: int, linked_ids: list[int]
) -> dict[int, dict[str, Any] | None]:
    """Lock the patron and the linked patrons; 404 for an unknown patron, 409 when it is secured."""
    found = await patrons.lock(tx, ts, [patron_id, *linked_ids])
    patron = found[patron_id]
    if patron is None:
        raise errors.invalid_patron()
    patrons.refuse_secured(patron)
    return found


def _distinct(linked_ids: list[int]) -> None:
    seen: set[int] = set()
    for linked_id in linked_ids:
        if linked_id in seen:
            raise errors.listed_twice(linked_id)
        seen.add(linked_id)


def _note(entry: dict[str, Any]) -> str | None:
    note = entry.get("Note")
    return None if note is None else note[:NOTE_LIMIT]


def _new_row(
    who: Staff, patron_id: int, linked_id: int, note: str | None, block_me: bool, allow_me: bool, now: str
) -> dict[str, Any]:
    return {
        "id": _row_id(patron_id, linked_id),
        "PatronID": patron_id,
        "LinkedPatronID": linked_id,
        "Note": note,
        "BlockMe": block_me,
        "AllowMe": allow_me,
        "CreatorID": who.polaris_user_id,
        "CreatorName": who.username,
        "CreationDate": now,
        **who.stamp(now),
        "OrganizationID": who.organization_id,
        "WorkstationID": who.workstation_id,
    }


# -- handlers ---------------------------------------------------------------------------------------
async def get_associations(call: Call) -> web.StreamResponse:
    """GET patrons/{id}/associations."""
    await staff(call)
    patron = await patrons.load(call.store, call.tenant, call.uri["patronId"])
    return json_response(await listing(call.store, call.tenant, patron["PatronID"]))


async def post_associations(call: Call) -> web.StreamResponse:
    """POST patrons/{id}/associations: add associations, all or none; answers the full list."""
    if call.body is None:
        raise errors.no_associations("DtoPatronAssociationInfo list")
    who = await staff(call)
    ts, patron_id = call.tenant, call.uri["patronId"]
    entries: list[dict[str, Any]] = call.body
    linked_ids = [e["LinkedPatronId"] for e in entries]
    limit = call.request.app[SETTINGS].polaris_max_associations
    async with call.store.transaction(ts) as tx:
        found = await _locked(tx, ts, patron_id, linked_ids)
        _distinct(linked_ids)
        for linked_id in linked_ids:
            if linked_id == patron_id:
                raise errors.self_association()
            linked = found[linked_id]
            if linked is None:
                raise errors.unknown_linked_patron(linked_id)
            patrons.refuse_secured(linked)
            if await tx.get(ts, POLARIS_PATRON_ASSOCIATIONS, _row_id(patron_id, linked_id)) is not None:
                raise errors.association_exists(patron_id, linked_id)
        if await count(tx, ts, patron_id) + len(linked_ids) > limit:
            raise errors.too_many_associations(patron_id, limit)
        for linked_id in linked_ids:
            if await count(tx, ts, linked_id) + 1 > limit:
                raise errors.too_many_associations(linked_id, limit)
        now = now_iso()
        for entry in entries:
            linked_id, note = entry["LinkedPatronId"], _note(entry)
            this_side = _new_row(
                who, patron_id, linked_id, note, bool(entry.get("BlockMe")), bool(entry.get("AllowMe")), now
            )
            # The other record sees the association with its own side unset (Polaris' defaults are off).
            other_side = _new_row(who, linked_id, patron_id, note, False, False, now)
            await tx.insert(ts, POLARIS_PATRON_ASSOCIATIONS, this_side, who.user_id)
            await tx.insert(ts, POLARIS_PATRON_ASSOCIATIONS, other_side, who.user_id)
        return json_response(await listing(tx, ts, patron_id))


async def put_associations(call: Call) -> web.StreamResponse:
    """PUT patrons/{id}/associations: change existing associations, all or none; answers the full list."""
    if call.body is None:
        raise errors.no_associations("DtoPatronAssociationInfo")
    who = await staff(call)
    ts, patron_id = call.tenant, call.uri["patronId"]
    entries: list[dict[str, Any]] = call.body
    linked_ids = [e["LinkedPatronId"] for e in entries]
    async with call.store.transaction(ts) as tx:
        found = await _locked(tx, ts, patron_id, linked_ids)
        _distinct(linked_ids)
        now = now_iso()
        for entry in entries:
            linked_id = entry["LinkedPatronId"]
            if found[linked_id] is None:
                raise errors.unknown_linked_patron(linked_id)
            this_side = await tx.get(ts, POLARIS_PATRON_ASSOCIATIONS, _row_id(patron_id, linked_id))
            other_side = await tx.get(ts, POLARIS_PATRON_ASSOCIATIONS, _row_id(linked_id, patron_id))
            if this_side is None or other_side is None:
                raise errors.no_such_association(patron_id, linked_id)
            patrons.refuse_secured(found[linked_id])
            shared = {**who.stamp(now)}
            if "Note" in entry:
                shared["Note"] = _note(entry)
            own = {k: entry[k] for k in ("BlockMe", "AllowMe") if entry.get(k) is not None}
            await tx.update(
                ts, POLARIS_PATRON_ASSOCIATIONS, this_side["id"], {**this_side, **shared, **own}, who.user_id
            )
            await tx.update(ts, POLARIS_PATRON_ASSOCIATIONS, other_side["id"], {**other_side, **shared}, who.user_id)
        return json_response(await listing(tx, ts, patron_id))


def _linked_ids(raw: str) -> list[int]:
    """``12,15`` as [12, 15]; 400 for anything else (spaces, empty parts, signs, letters)."""
    if not _ID_LIST.fullmatch(raw):
        raise errors.malformed_id_list(raw)
    return list(dict.fromkeys(int(part) for part in raw.split(",")))


async def delete_associations(call: Call) -> web.StreamResponse:
    """DELETE patrons/{id}/associations/{id},{id},...: remove associations (both sides), all or none;
    answers the remaining list."""
    who = await staff(call)
    ts, patron_id = call.tenant, call.uri["patronId"]
    linked_ids = _linked_ids(call.uri["linkedPatronIds"])
    async with call.store.transaction(ts) as tx:
        found = await _locked(tx, ts, patron_id, linked_ids)
        for linked_id in linked_ids:
            this_side = _row_id(patron_id, linked_id)
            if found[linked_id] is None:
                raise errors.unknown_linked_patron(linked_id)
            if await tx.get(ts, POLARIS_PATRON_ASSOCIATIONS, this_side) is None:
                raise errors.no_such_association(patron_id, linked_id)
            patrons.refuse_secured(found[linked_id])
            await tx.delete(ts, POLARIS_PATRON_ASSOCIATIONS, this_side)
            await tx.delete(ts, POLARIS_PATRON_ASSOCIATIONS, _row_id(linked_id, patron_id))
        remaining = await listing(tx, ts, patron_id)
    # Written once the delete is committed: the rows that recorded the association's modifier are gone, the
    # line keeps who deleted it and when.
    log.info(
        "patron associations deleted", extra={"patronId": patron_id, "linkedPatronIds": linked_ids, **who.log_fields()}
    )
    return json_response(remaining)


ROUTES = (
    polaris_route("GET", "/patrons/{patronId}/associations", get_associations),
    polaris_route("POST", "/patrons/{patronId}/associations", post_associations),
    polaris_route("PUT", "/patrons/{patronId}/associations", put_associations),
    polaris_route("DELETE", "/patrons/{patronId}/associations/{linkedPatronIds}", delete_associations),
)
