"""FOLIO-style configuration of the Polaris-style API: organisations, library-defined block descriptions,
workstations, patrons and countries (postal code formats), each a CQL-searchable CRUD collection.

Each record's Polaris integer id is assigned when left out (``IdKind.prepare``); references between them
must point at stored records, and an organisation others belong to keeps its place in the hierarchy and
cannot be deleted. A patron's Barcode is stored trimmed, as registration stores it. Deleting a patron also
deletes its blocks and both sides of its associations.
"""

from __future__ import annotations

from typing import Any

from mod_users.resources.crud import Collection
from mod_users.resources.polaris import organizations
from mod_users.resources.polaris.ids import (
    BLOCK_DESCRIPTION,
    COUNTRY,
    ID_CANNOT_CHANGE,
    ID_IS_DERIVED,
    ORGANIZATION,
    PATRON,
    WORKSTATION,
)
from mod_users.routing import Call
from mod_users.storage.tables import (
    POLARIS_PATRON_ASSOCIATIONS,
    POLARIS_PATRON_BLOCKS,
    POLARIS_SYSTEM_BLOCK_CLEARANCES,
    Table,
)

# Fragments of every 422 message of these collections that no schema can state (a reference to a missing
# record, a misplaced organisation, a changed id; "already exists" for duplicates): how a client, or a
# test, tells a rule's rejection from a schema's.
RULE_MESSAGES = (
    organizations.NO_PARENT,
    organizations.WRONG_PARENT.split("{", 1)[0],
    organizations.NO_ORGANIZATION,
    organizations.NOT_A_BRANCH,
    organizations.IN_USE,
    organizations.NOT_DELETABLE,
    ID_CANNOT_CHANGE,
    ID_IS_DERIVED,
    "already exists",
)


async def _prepare_patron(call: Call, record: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    # Scanners add line ends: a barcode is stored without surrounding spaces, here as in registration (the
    # schema asks for a character that is not one, so something is left).
    return await PATRON.prepare(call, {**record, "Barcode": record["Barcode"].strip()}, stored)


def _patron_dependents(patron: dict[str, Any]) -> tuple[tuple[Table, str], ...]:
    patron_id = int(patron["PatronID"])
    return (
        (POLARIS_PATRON_BLOCKS, f"PatronID=={patron_id}"),
        (POLARIS_PATRON_ASSOCIATIONS, f"PatronID=={patron_id} or LinkedPatronID=={patron_id}"),
        (POLARIS_SYSTEM_BLOCK_CLEARANCES, f"PatronID=={patron_id}"),
    )


ORGANIZATIONS_API = Collection(
    path="/polaris/organizations",
    item_param="organizationId",
    table=ORGANIZATION.table,
    key="organizations",
    noun="Organization",
    checks=(organizations.fits_hierarchy, organizations.keeps_its_place),
    prepare=ORGANIZATION.prepare,
    delete_checks=(organizations.owns_nothing,),
)
BLOCK_DESCRIPTIONS_API = Collection(
    path="/polaris/block-descriptions",
    item_param="blockDescriptionId",
    table=BLOCK_DESCRIPTION.table,
    key="blockDescriptions",
    noun="Block description",
    checks=(organizations.organization_exists,),
    prepare=BLOCK_DESCRIPTION.prepare,
)
WORKSTATIONS_API = Collection(
    path="/polaris/workstations",
    item_param="workstationRecordId",
    table=WORKSTATION.table,
    key="workstations",
    noun="Workstation",
    checks=(organizations.organization_exists,),
    prepare=WORKSTATION.prepare,
)
PATRONS_API = Collection(
    path="/polaris/patrons",
    item_param="patronRecordId",
    table=PATRON.table,
    key="patrons",
    noun="Patron",
    checks=(organizations.registered_at_a_branch,),
    prepare=_prepare_patron,
    dependents=_patron_dependents,
)
COUNTRIES_API = Collection(
    path="/polaris/countries",
    item_param="countryRecordId",
    table=COUNTRY.table,
    key="countries",
    noun="Country",
    prepare=COUNTRY.prepare,
)

ROUTES = (
    *ORGANIZATIONS_API.routes(),
    *BLOCK_DESCRIPTIONS_API.routes(),
    *WORKSTATIONS_API.routes(),
    *PATRONS_API.routes(),
    *COUNTRIES_API.routes(),
)
