"""Every table the module keeps in a tenant schema, with its declared indexes (as RMB's schema.json).

Each table is ``(id uuid primary key, jsonb jsonb not null)``. The same ``Index`` declarations create the
indexes at tenant init and tell the CQL translator which expressions are indexed, so a query and its
index cannot drift apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mod_users.cql import Index
from mod_users.storage.tenants import check_identifier

INDEX_PREFIX = "mu_"


@dataclass(frozen=True)
class Table:
    """A JSONB record table and what searching it needs."""

    name: str
    indexes: tuple[Index, ...] = ()
    # Fields a bare CQL term (cql.serverChoice) searches.
    server_choice: tuple[str, ...] = ()
    # RMB-style optimistic locking on the ``_version`` property.
    optimistic_locking: bool = False

    def __post_init__(self) -> None:
        check_identifier(self.name)

    def index_name(self, index: Index) -> str:
        """The stable, at most 63 character name of one of this table's declared indexes. The ``mu_``
        prefix marks our indexes, so that reconciling never drops one someone else made."""
        base = f"{INDEX_PREFIX}{self.name}_{index.field.replace('.', '_')}_{index.kind}"
        if index.case_sensitive or not index.remove_accents:
            base += f"_{int(index.case_sensitive)}{int(index.remove_accents)}"
        base = base.lower()
        if len(base) > 63:
            base = base[:54] + "_" + hashlib.sha1(base.encode()).hexdigest()[:8]
        return base

    def unique_field(self, constraint: str) -> str | None:
        """The field a unique index or the primary key named ``constraint`` guards."""
        if constraint == f"{self.name}_pkey":
            return "id"
        for index in self.indexes:
            if self.index_name(index) == constraint:
                return index.field
        return None


PATRON_BLOCK_CONDITIONS = Table(
    "patron_block_conditions",
    # name: exact, prefix and sorted searches (btree) and word searches (full text); valueType: a filter
    # that splits the table in two, whose index also gives the planner statistics for totalRecords.
    indexes=(Index("name", "btree"), Index("name", "fulltext"), Index("valueType", "btree")),
    server_choice=("name",),
    optimistic_locking=True,
)

# -- the Polaris-style resource set ------------------------------------------------------------------
# Every record carries its Polaris integer id (OrganizationID, PatronID, ...) in the JSON; the row id is
# derived from it (see mod_users.resources.polaris.ids), so a lookup by Polaris id is a primary-key lookup.
POLARIS_ORGANIZATIONS = Table(
    "polaris_organizations",
    indexes=(Index("Name", "btree"), Index("Abbreviation", "unique"), Index("ParentOrganizationID", "btree")),
    server_choice=("Name", "Abbreviation"),
    optimistic_locking=True,
)
POLARIS_BLOCK_DESCRIPTIONS = Table(
    "polaris_block_descriptions",
    indexes=(Index("OrganizationID", "btree"), Index("Description", "btree")),
    server_choice=("Description",),
    optimistic_locking=True,
)
POLARIS_WORKSTATIONS = Table(
    "polaris_workstations",
    indexes=(Index("Name", "btree"), Index("OrganizationID", "btree")),
    server_choice=("Name",),
    optimistic_locking=True,
)
POLARIS_PATRONS = Table(
    "polaris_patrons",
    # The email and phone indexes serve the registration's search for duplicate patrons.
    indexes=(
        Index("Barcode", "unique"),
        Index("OrganizationID", "btree"),
        Index("Registration.NameLast", "btree"),
        Index("Registration.EmailAddress", "btree"),
        Index("Registration.PhoneVoice1", "btree"),
        Index("Registration.PhoneVoice2", "btree"),
        Index("Registration.PhoneVoice3", "btree"),
    ),
    server_choice=("Barcode", "Registration.NameLast", "Registration.NameFirst"),
    optimistic_locking=True,
)
# Countries and the formats of their postal codes (reference data).
POLARIS_COUNTRIES = Table(
    "polaris_countries",
    indexes=(Index("Name", "btree"),),
    server_choice=("Name",),
    optimistic_locking=True,
)
# Free-text blocks and library-defined blocks (stops) placed on patrons; system blocks are not rows but
# the bits of the patron's SystemBlocks mask.
POLARIS_PATRON_BLOCKS = Table("polaris_patron_blocks", indexes=(Index("PatronID", "btree"),))
# One row per direction of an association (A->B and B->A), written and removed together.
POLARIS_PATRON_ASSOCIATIONS = Table(
    "polaris_patron_associations",
    indexes=(Index("PatronID", "btree"), Index("LinkedPatronID", "btree")),
)

# -- automated patron blocks (mod-patron-blocks' tables) ----------------------------------------------
# One limit per patron group and condition; both fields are filters (the blocks of a group, the limits a
# condition's delete must keep).
PATRON_BLOCK_LIMITS = Table(
    "patron_block_limits",
    indexes=(Index("patronGroupId", "btree"), Index("conditionId", "btree")),
    optimistic_locking=True,
)
# One summary per user; its row id is the user id, so finding a user's summary is a primary-key lookup
# and two first events for one user cannot create two summaries.
USER_SUMMARIES = Table("user_summaries", optimistic_locking=True)
# Every event received (HTTP, Kafka), with what it did; the row id is the event's identity, so a second
# delivery of the same event finds its row and changes nothing.
PATRON_BLOCK_EVENTS = Table("patron_block_events", indexes=(Index("userId", "btree"),))
SYNCHRONIZATION_JOBS = Table("synchronization_jobs", indexes=(Index("status", "btree"),))
# -- Polaris clients' own listener: staff users, their logins and tokens, PAPI access keys ----------------
# Staff users (the row id derived from PolarisUserID); FolioUserID links one to a FOLIO user.
POLARIS_STAFF_USERS = Table(
    "polaris_staff_users",
    indexes=(Index("UserName", "btree"), Index("FolioUserID", "unique")),
    server_choice=("UserName", "UserDomain"),
    optimistic_locking=True,
)
# One row per login name ("DOMAIN\\user", the row id derived from it, so a login reads it by primary key):
# the staff user it names, the password's salted slow hash, and the failed attempts (kept for unknown
# names too, so that a locked name tells nothing about whether it exists).
POLARIS_STAFF_LOGINS = Table(
    "polaris_staff_logins", indexes=(Index("StaffUserID", "btree"), Index("ForgetAfter", "btree"))
)
# Issued access tokens (the row id derived from the AccessToken): only a hash of the AccessSecret is kept.
POLARIS_STAFF_TOKENS = Table(
    "polaris_staff_tokens", indexes=(Index("StaffUserID", "btree"), Index("ExpiresAt", "btree"))
)
# PAPI access keys (the row id derived from the AccessID), and apart from them the keys themselves: PWS signs
# with the key (HMAC), so the server must hold it; it never travels with the record.
POLARIS_PAPI_KEYS = Table("polaris_papi_keys", server_choice=("AccessID", "Name"), optimistic_locking=True)
POLARIS_PAPI_KEY_SECRETS = Table("polaris_papi_key_secrets")
# System blocks derived from a date (address check, registration expiry) that staff cleared, by patron.
POLARIS_SYSTEM_BLOCK_CLEARANCES = Table("polaris_system_block_clearances", indexes=(Index("PatronID", "btree"),))

ALL_TABLES: tuple[Table, ...] = (
    PATRON_BLOCK_CONDITIONS,
    POLARIS_ORGANIZATIONS,
    POLARIS_BLOCK_DESCRIPTIONS,
    POLARIS_WORKSTATIONS,
    POLARIS_PATRONS,
    POLARIS_PATRON_BLOCKS,
    POLARIS_PATRON_ASSOCIATIONS,
    POLARIS_COUNTRIES,
    PATRON_BLOCK_LIMITS,
    USER_SUMMARIES,
    PATRON_BLOCK_EVENTS,
    SYNCHRONIZATION_JOBS,
    POLARIS_STAFF_USERS,
    POLARIS_STAFF_LOGINS,
    POLARIS_STAFF_TOKENS,
    POLARIS_PAPI_KEYS,
    POLARIS_PAPI_KEY_SECRETS,
    POLARIS_SYSTEM_BLOCK_CLEARANCES,
)

# Per-tenant sequences that hand out new Polaris integer ids (created by a versioned migration).
POLARIS_ORGANIZATION_IDS = "polaris_organization_id_seq"
POLARIS_BLOCK_DESCRIPTION_IDS = "polaris_block_description_id_seq"
POLARIS_WORKSTATION_IDS = "polaris_workstation_id_seq"
POLARIS_PATRON_IDS = "polaris_patron_id_seq"
POLARIS_FREE_TEXT_BLOCK_IDS = "polaris_free_text_block_id_seq"
POLARIS_COUNTRY_IDS = "polaris_country_id_seq"
POLARIS_STAFF_USER_IDS = "polaris_staff_user_id_seq"
# The sequences of migration 0001 (later ones have their own migrations).
POLARIS_SEQUENCES: tuple[str, ...] = (
    POLARIS_ORGANIZATION_IDS,
    POLARIS_BLOCK_DESCRIPTION_IDS,
    POLARIS_WORKSTATION_IDS,
    POLARIS_PATRON_IDS,
    POLARIS_FREE_TEXT_BLOCK_IDS,
)
