"""Patron blocks, Polaris-style: the blocks an organisation offers, a patron's block summary, one block's
details, and placing, changing and removing blocks.

A patron's blocks are free-text blocks (BlockType 1, their own BlockID from a sequence), library-defined
blocks (BlockType 2, BlockID = the block description's) and system blocks (:mod:`system_blocks`: the bits of
the patron's SystemBlocks mask and the blocks derived from its registration dates, not rows). Every change
locks the patron's row first, so that the secured check, the de-duplication and the write cannot interleave
with another change to the same patron.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from mod_users.resources.polaris import associations, errors, organizations, patrons, system_blocks
from mod_users.resources.polaris.context import MAX_ROWS, Staff, polaris_route, staff
from mod_users.resources.polaris.ids import BLOCK_DESCRIPTION, ORGANIZATION, WORKSTATION, row_id
from mod_users.routing import Call, json_response
from mod_users.storage.records import RecordStore, now_iso
from mod_users.storage.tables import POLARIS_FREE_TEXT_BLOCK_IDS, POLARIS_PATRON_BLOCKS
from mod_users.storage.tenants import TenantSchema

FREE_TEXT, LIBRARY = 1, 2
# Polaris clients name the two kinds staff can place by either number.
_KINDS = {1: FREE_TEXT, 101: FREE_TEXT, 2: LIBRARY, 100: LIBRARY}
DESCRIPTION_LIMIT = 255
log = logging.getLogger(__name__)


def _kind(block_type: Any) -> int:
    """FREE_TEXT or LIBRARY for a BlockType a client sent; 400 for a system block or anything else."""
    if block_type in (system_blocks.VERIFY_PATRON_DATA, system_blocks.PROTECTED):
        raise errors.system_block()
    kind = _KINDS.get(block_type) if isinstance(block_type, int) and not isinstance(block_type, bool) else None
    if kind is None:
        raise errors.invalid_block_type()
    return kind


def _row_id(kind: int, patron_id: int, block_id: int) -> str:
    # A free-text block's BlockID is its own; a library-defined block is unique per patron by construction.
    return row_id("free-text-block", block_id) if kind == FREE_TEXT else row_id("stop", patron_id, block_id)


def _free_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise errors.description_required()
    text = text.strip()
    if len(text) > DESCRIPTION_LIMIT:
        raise errors.description_too_long(DESCRIPTION_LIMIT)
    return text


async def _offered(store: RecordStore, ts: TenantSchema, organization_id: int, block_id: Any) -> dict[str, Any]:
    """The block description ``block_id`` if the logon organisation offers it; 400 otherwise."""
    offered = await organizations.offered_blocks(store, ts, organization_id) or []
    for description in offered:
        if description["BlockID"] == block_id:
            return description
    raise errors.invalid_block_id(block_id, organization_id)


async def _stored_blocks(store: RecordStore, ts: TenantSchema, patron_id: int) -> list[dict[str, Any]]:
    blocks = await store.find(ts, POLARIS_PATRON_BLOCKS, f"PatronID=={int(patron_id)}", MAX_ROWS)
    return sorted(blocks, key=lambda b: (b["BlockType"], b["CreationDate"], b["BlockID"]))


async def _texts(store: RecordStore, ts: TenantSchema, blocks: list[dict[str, Any]]) -> dict[int, str]:
    """Current texts of the library-defined blocks among ``blocks`` (a description renamed since the block
    was placed shows its new text; one deleted since keeps the text it had)."""
    found = await BLOCK_DESCRIPTION.get_many(store, ts, (b["BlockID"] for b in blocks if b["BlockType"] == LIBRARY))
    return {block_id: description["Description"] for block_id, description in found.items()}


async def summary(store: RecordStore, ts: TenantSchema, patron: dict[str, Any]) -> list[dict[str, Any]]:
    """One patron's blockssummary rows: free-text, then library-defined, then system blocks."""
    blocks = await _stored_blocks(store, ts, patron["PatronID"])
    texts = await _texts(store, ts, blocks)
    common = {"PatronID": patron["PatronID"], "PatronFullName": patrons.full_name(patron)}
    rows = [
        {
            **common,
            "BlockType": b["BlockType"],
            "BlockID": b["BlockID"],
            "BlockDescription": texts.get(b["BlockID"], b["BlockDescription"])
            if b["BlockType"] == LIBRARY
            else b["BlockDescription"],
            "PatronBranchID": patron["OrganizationID"],
            "CreationDate": b["CreationDate"],
        }
        for b in blocks
    ]
    rows += [
        {
            **common,
            "BlockType": block.block_type,
            "BlockID": block.block_id,
            "BlockDescription": block.description,
            "PatronBranchID": patron["OrganizationID"],
            "CreationDate": None,
        }
        for block in await system_blocks.of(store, ts, patron)
    ]
    return rows


async def _detail(
    store: RecordStore,
    ts: TenantSchema,
    patron: dict[str, Any],
    block: dict[str, Any],
    who: Staff,
    description: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A stored block of ``patron`` as Polaris' block detail, with the patron's name and the names of its
    organisation and workstation. Those of the caller (``who``) and the block ``description`` just chosen
    are not read again."""
    organization = (
        who.organization
        if block["OrganizationID"] == who.organization_id
        else await ORGANIZATION.get(store, ts, block["OrganizationID"])
    )
    workstation = (
        who.workstation
        if block["WorkstationID"] == who.workstation_id
        else await WORKSTATION.get(store, ts, block["WorkstationID"])
    )
    text = block["BlockDescription"]
    if block["BlockType"] == LIBRARY:
        if description is None or description["BlockID"] != block["BlockID"]:
            description = await BLOCK_DESCRIPTION.get(store, ts, block["BlockID"])
        text = description["Description"] if description else text
    return {
        "PatronID": block["PatronID"],
        "PatronFullName": patrons.full_name(patron),
        "BlockType": block["BlockType"],
        "BlockID": block["BlockID"],
        "BlockDescription": text,
        "CreatorID": block.get("CreatorID"),
        "CreatorName": block.get("CreatorName"),
        "ModifierID": block.get("ModifierID"),
        "ModifierName": block.get("ModifierName"),
        "CreationDate": block["CreationDate"],
        "ModificationDate": block["ModificationDate"],
        "OrganizationID": block["OrganizationID"],
        "OrganizationName": organization["Name"] if organization else None,
        "WorkstationID": block["WorkstationID"],
        "WorkstationName": workstation["Name"] if workstation else None,
    }


def _is_duplicate_text(blocks: list[dict[str, Any]], text: str, except_id: int | None = None) -> bool:
    # Polaris de-duplicates blocks; two free-text blocks are the same when their texts differ only in case.
    return any(
        b["BlockType"] == FREE_TEXT
        and b["BlockID"] != except_id
        and b["BlockDescription"].casefold() == text.casefold()
        for b in blocks
    )


# -- handlers ---------------------------------------------------------------------------------------
async def get_library_blocks(call: Call) -> web.StreamResponse:
    """GET patronblocks?orgID= : the library-defined blocks the organisation offers."""
    await staff(call)
    offered = await organizations.offered_blocks(call.store, call.tenant, call.params["orgID"])
    if offered is None:
        raise errors.invalid_organization()
    return json_response([{"BlockID": b["BlockID"], "Description": b["Description"]} for b in offered])


async def get_blocks_summary(call: Call) -> web.StreamResponse:
    """GET patrons/{id}/blockssummary: the patron's blocks, or with associatedblocks=true those of the
    associated patrons whose association blocks this one (BlockMe on this patron's side)."""
    await staff(call)
    patron = await patrons.load(call.store, call.tenant, call.uri["patronId"])
    if not call.params["associatedblocks"]:
        return json_response(await summary(call.store, call.tenant, patron))
    rows = []
    for linked in await associations.blocking_patrons(call.store, call.tenant, patron["PatronID"]):
        rows += await summary(call.store, call.tenant, linked)
    return json_response(rows)


async def _block_detail(call: Call, kind: int) -> web.StreamResponse:
    who = await staff(call)
    patron = await patrons.load(call.store, call.tenant, call.uri["patronId"])
    patrons.refuse_secured(patron)
    block = await call.store.get(
        call.tenant, POLARIS_PATRON_BLOCKS, _row_id(kind, patron["PatronID"], call.uri["blockId"])
    )
    if block is None or block["PatronID"] != patron["PatronID"]:
        raise errors.unknown_block()
    return json_response(await _detail(call.store, call.tenant, patron, block, who))


async def get_free_text_block(call: Call) -> web.StreamResponse:
    """GET patrons/{patronid}/blocks/freetext/{blockid}."""
    return await _block_detail(call, FREE_TEXT)


async def get_library_block(call: Call) -> web.StreamResponse:
    """GET patrons/{patronid}/blocks/stops/{blockid}."""
    return await _block_detail(call, LIBRARY)


async def post_block(call: Call) -> web.StreamResponse:
    """POST patrons/{id}/blocks: place a free-text or library-defined block."""
    who = await staff(call)
    ts = call.tenant
    async with call.store.transaction(ts) as tx:
        patron = await patrons.load(tx, ts, call.uri["patronId"], for_update=True)
        patrons.refuse_secured(patron)
        kind = _kind(call.body.get("BlockType"))
        patron_id = patron["PatronID"]
        description = None
        if kind == FREE_TEXT:
            text = _free_text(call.body.get("BlockDescription"))
            if _is_duplicate_text(await _stored_blocks(tx, ts, patron_id), text):
                raise errors.duplicate_block()
            block_id = await tx.next_value(ts, POLARIS_FREE_TEXT_BLOCK_IDS)
        else:
            description = await _offered(tx, ts, who.organization_id, call.body.get("BlockID"))
            block_id, text = description["BlockID"], description["Description"]
            if await tx.get(ts, POLARIS_PATRON_BLOCKS, _row_id(kind, patron_id, block_id)) is not None:
                raise errors.duplicate_block()
        stored = await tx.insert(
            ts, POLARIS_PATRON_BLOCKS, _new_block(who, kind, patron_id, block_id, text), who.user_id
        )
    return json_response(await _detail(call.store, ts, patron, stored, who, description))


def _new_block(who: Staff, kind: int, patron_id: int, block_id: int, text: str) -> dict[str, Any]:
    now = now_iso()
    return {
        "id": _row_id(kind, patron_id, block_id),
        "PatronID": patron_id,
        "BlockType": kind,
        "BlockID": block_id,
        "BlockDescription": text,
        "CreatorID": who.polaris_user_id,
        "CreatorName": who.username,
        "CreationDate": now,
        **who.stamp(now),
        "OrganizationID": who.organization_id,
        "WorkstationID": who.workstation_id,
    }


async def _changed_block(call: Call, tx: RecordStore, ts: TenantSchema) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """Lock the patron, find the block the path names; the block, its kind and the patron (404/409/400
    otherwise)."""
    patron = await patrons.load(tx, ts, call.uri["patronId"], for_update=True)
    patrons.refuse_secured(patron)
    kind = _kind(call.uri["blockType"])
    block = await tx.get(ts, POLARIS_PATRON_BLOCKS, _row_id(kind, patron["PatronID"], call.uri["blockId"]))
    if block is None or block["PatronID"] != patron["PatronID"]:
        raise errors.unknown_block()
    return block, kind, patron


async def put_block(call: Call) -> web.StreamResponse:
    """PUT patrons/{patronid}/blocks/{blocktype}/{blockid}: a free-text block gets a new text, a
    library-defined block a new BlockID; the change records who made it and when."""
    who = await staff(call)
    ts = call.tenant
    async with call.store.transaction(ts) as tx:
        block, kind, patron = await _changed_block(call, tx, ts)
        if call.body.get("BlockType") is not None and _kind(call.body["BlockType"]) != kind:
            raise errors.invalid_block_type()
        changed = {**block, **who.stamp(now_iso())}
        description = None
        if kind == FREE_TEXT:
            text = _free_text(call.body.get("BlockDescription"))
            others = await _stored_blocks(tx, ts, block["PatronID"])
            if _is_duplicate_text(others, text, except_id=block["BlockID"]):
                raise errors.duplicate_block()
            stored = await tx.update(
                ts, POLARIS_PATRON_BLOCKS, block["id"], {**changed, "BlockDescription": text}, who.user_id
            )
        else:
            description = await _offered(tx, ts, who.organization_id, call.body.get("BlockID"))
            new_id = _row_id(kind, block["PatronID"], description["BlockID"])
            if new_id == block["id"]:
                stored = await tx.update(ts, POLARIS_PATRON_BLOCKS, block["id"], changed, who.user_id)
            else:
                # A library-defined block's row id comes from its BlockID: the new block replaces the old row.
                if await tx.get(ts, POLARIS_PATRON_BLOCKS, new_id) is not None:
                    raise errors.duplicate_block()
                await tx.delete(ts, POLARIS_PATRON_BLOCKS, block["id"])
                stored = await tx.insert(
                    ts,
                    POLARIS_PATRON_BLOCKS,
                    {
                        **changed,
                        "id": new_id,
                        "BlockID": description["BlockID"],
                        "BlockDescription": description["Description"],
                    },
                    who.user_id,
                )
    if stored is None:  # cannot happen while the patron is locked; answered as the block being gone
        raise errors.unknown_block()
    return json_response(await _detail(call.store, ts, patron, stored, who, description))


def _names_a_system_block(block_type: int, block_id: int) -> bool:
    # 100 is also library-defined blocks' alias; a derived block's BlockID 0 is no library-defined block's.
    if block_type == system_blocks.REGISTRATION_EXPIRED:
        return block_id == system_blocks.DERIVED_BLOCK_ID
    return block_type in system_blocks.KINDS


async def delete_block(call: Call) -> web.StreamResponse:
    """DELETE patrons/{patronid}/blocks/{blocktype}/{blockid}: answers true, as Polaris does. A system block
    the summary lists as one a client may clear (see :mod:`system_blocks`) goes too; others stay (400)."""
    who = await staff(call)
    ts = call.tenant
    async with call.store.transaction(ts) as tx:
        if _names_a_system_block(call.uri["blockType"], call.uri["blockId"]):
            patron = await patrons.load(tx, ts, call.uri["patronId"], for_update=True)
            patrons.refuse_secured(patron)
            cleared = await system_blocks.clear(tx, ts, patron, call.uri["blockType"], call.uri["blockId"], who.user_id)
            block = {"PatronID": patron["PatronID"], "BlockType": cleared.block_type, "BlockID": cleared.block_id}
        else:
            block, _, _ = await _changed_block(call, tx, ts)
            await tx.delete(ts, POLARIS_PATRON_BLOCKS, block["id"])
    # Written once the delete is committed: the row that recorded the block's modifier is gone, the line keeps
    # who deleted it and when.
    log.info(
        "patron block deleted",
        extra={
            "patronId": block["PatronID"],
            "blockType": block["BlockType"],
            "blockId": block["BlockID"],
            **who.log_fields(),
        },
    )
    return json_response(True)


ROUTES = (
    polaris_route("GET", "/patronblocks", get_library_blocks),
    polaris_route("GET", "/patrons/{patronId}/blockssummary", get_blocks_summary),
    polaris_route("POST", "/patrons/{patronId}/blocks", post_block),
    polaris_route("GET", "/patrons/{patronId}/blocks/freetext/{blockId}", get_free_text_block),
    polaris_route("GET", "/patrons/{patronId}/blocks/stops/{blockId}", get_library_block),
    polaris_route("PUT", "/patrons/{patronId}/blocks/{blockType}/{blockId}", put_block),
    polaris_route("DELETE", "/patrons/{patronId}/blocks/{blockType}/{blockId}", delete_block),
)
