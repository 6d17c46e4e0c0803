"""The organisation hierarchy (system -> library -> branch) and what it decides: which library-defined
blocks an organisation offers, which records may hang where, and the settings a branch inherits."""

from __future__ import annotations

from typing import Any

from mod_users.errors import folio_error
from mod_users.resources.polaris.context import MAX_ROWS
from mod_users.resources.polaris.ids import ORGANIZATION
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import (
    POLARIS_BLOCK_DESCRIPTIONS,
    POLARIS_ORGANIZATIONS,
    POLARIS_PATRONS,
    POLARIS_WORKSTATIONS,
    Table,
)
from mod_users.storage.tenants import TenantSchema

SYSTEM, LIBRARY, BRANCH = 1, 2, 3
NO_PARENT = "The system has no parent organization"
WRONG_PARENT = "The parent of {level} must be {parent}"
NO_ORGANIZATION = "Organization does not exist"
NOT_A_BRANCH = "A patron's OrganizationID must be a branch"
IN_USE = "cannot change while"
NOT_DELETABLE = "cannot be deleted while"
_LEVEL_NAMES = {SYSTEM: "the system", LIBRARY: "a library", BRANCH: "a branch"}
# The hierarchy is three levels deep; the bound only stops a loop someone made by hand in the data.
_MAX_DEPTH = 10


async def lineage(store: RecordStore, ts: TenantSchema, organization_id: int) -> list[dict[str, Any]]:
    """The organisation and those above it, nearest first; empty when the organisation is unknown."""
    found: list[dict[str, Any]] = []
    current: Any = organization_id
    while current is not None and len(found) < _MAX_DEPTH:
        organization = await ORGANIZATION.get(store, ts, current)
        if organization is None or any(o["OrganizationID"] == current for o in found):
            break
        found.append(organization)
        current = organization.get("ParentOrganizationID")
    return found


def inherited(organizations: list[dict[str, Any]], setting: str) -> Any:
    """A setting as a branch sees it (``organizations`` nearest first, as :func:`lineage` gives them): its
    own value, else its library's, else the system's; None when none of them sets it."""
    for organization in organizations:
        if organization.get(setting) is not None:
            return organization[setting]
    return None


async def offered_blocks(store: RecordStore, ts: TenantSchema, organization_id: int) -> list[dict[str, Any]] | None:
    """The block descriptions an organisation offers: the system's, then its library's, then its own, each
    in SortOrder (ties by BlockID); None when the organisation is unknown."""
    organizations = await lineage(store, ts, organization_id)
    if not organizations:
        return None
    top_down = {o["OrganizationID"]: depth for depth, o in enumerate(reversed(organizations))}
    ids = " or ".join(str(int(n)) for n in top_down)
    offered = await store.find(ts, POLARIS_BLOCK_DESCRIPTIONS, f"OrganizationID==({ids})", MAX_ROWS)
    return sorted(offered, key=lambda b: (top_down[b["OrganizationID"]], b.get("SortOrder", 0), b["BlockID"]))


async def names(store: RecordStore, ts: TenantSchema, organization_ids: set[int]) -> dict[int, str]:
    """Organisation names by OrganizationID (unknown ones are left out)."""
    found = await ORGANIZATION.get_many(store, ts, organization_ids)
    return {organization_id: organization["Name"] for organization_id, organization in found.items()}


# -- rules for the configuration records ------------------------------------------------------------
async def fits_hierarchy(store: RecordStore, ts: TenantSchema, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The system has no parent, a library's parent is the system, a branch's parent a library."""
    level = record["OrganizationCodeID"]
    parent_id = record.get("ParentOrganizationID")
    if level == SYSTEM:
        if parent_id is None:
            return []
        return [folio_error(NO_PARENT, "ParentOrganizationID", parent_id)]
    wanted = level - 1
    parent = await ORGANIZATION.get(store, ts, parent_id)
    if parent is None or parent["OrganizationCodeID"] != wanted:
        message = WRONG_PARENT.format(level=_LEVEL_NAMES[level], parent=_LEVEL_NAMES[wanted])
        return [folio_error(message, "ParentOrganizationID", parent_id)]
    return []


# What hangs from an organisation: (what the message calls it, its table, the field that names the organisation).
_DEPENDENTS: tuple[tuple[str, Table, str], ...] = (
    ("organizations", POLARIS_ORGANIZATIONS, "ParentOrganizationID"),
    ("patrons", POLARIS_PATRONS, "OrganizationID"),
    ("workstations", POLARIS_WORKSTATIONS, "OrganizationID"),
)
# What a delete must find none of: those, and the organisation's block descriptions (a change of place takes
# them along, a delete would leave them to no organisation).
_OWNED = (*_DEPENDENTS, ("block descriptions", POLARIS_BLOCK_DESCRIPTIONS, "OrganizationID"))


async def _belonging(
    store: RecordStore, ts: TenantSchema, organization_id: int, kinds: tuple[tuple[str, Table, str], ...]
) -> list[str]:
    """The names of the ``kinds`` of records of which at least one belongs to the organisation."""
    return [name for name, table, field in kinds if await store.find(ts, table, f"{field}=={organization_id}", 1)]


async def keeps_its_place(store: RecordStore, ts: TenantSchema, record: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored organisation that organisations, patrons or workstations belong to keeps its level and its
    parent: a branch with patrons cannot become a library, nor a library with branches a branch, and the
    settings and blocks its patrons and workstations inherit do not move under them."""
    stored = await ORGANIZATION.get(store, ts, record.get("OrganizationID"))
    if stored is None:  # a new organisation
        return []
    changed = [
        field for field in ("OrganizationCodeID", "ParentOrganizationID") if record.get(field) != stored.get(field)
    ]
    if not changed:
        return []
    organization_id = int(stored["OrganizationID"])
    used = await _belonging(store, ts, organization_id, _DEPENDENTS)
    if not used:
        return []
    message = f"{_and(changed)} {IN_USE} {_and(used)} belong to organization {organization_id}"
    return [folio_error(message, changed[0], record.get(changed[0]))]


async def owns_nothing(store: RecordStore, ts: TenantSchema, organization: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored organisation may be deleted only when no organisation, patron, workstation or block
    description belongs to it: deleting it would cut what is below it off the hierarchy (the blocks and
    settings they inherit) and leave patrons registered at a branch that is gone."""
    organization_id = int(organization["OrganizationID"])
    used = await _belonging(store, ts, organization_id, _OWNED)
    if not used:
        return []
    return [
        folio_error(
            f"Organization {organization_id} {NOT_DELETABLE} {_and(used)} belong to it",
            "OrganizationID",
            organization_id,
        )
    ]


def _and(items: list[str]) -> str:
    return " and ".join(filter(None, (", ".join(items[:-1]), items[-1])))


async def organization_exists(store: RecordStore, ts: TenantSchema, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's OrganizationID names a stored organisation."""
    if await ORGANIZATION.get(store, ts, record["OrganizationID"]) is None:
        return [folio_error(NO_ORGANIZATION, "OrganizationID", record["OrganizationID"])]
    return []


async def registered_at_a_branch(store: RecordStore, ts: TenantSchema, record: dict[str, Any]) -> list[dict[str, Any]]:
    """A patron's registered organisation is a branch."""
    organization = await ORGANIZATION.get(store, ts, record["OrganizationID"])
    if organization is None or organization["OrganizationCodeID"] != BRANCH:
        return [folio_error(NOT_A_BRANCH, "OrganizationID", record["OrganizationID"])]
    return []
