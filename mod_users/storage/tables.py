"""Every table the module keeps in a tenant schema, with its declared indexes (as RMB's schema.json).

Each table is ``(id uuid primary key, jsonb jsonb not null)``. The same ``Index`` declarations create the
indexes at tenant init and tell the CQL translator which expressions are indexed, so a query and its
index cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from mod_users.cql import Index
from mod_users.storage.tenants import check_identifier


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


PATRON_BLOCK_CONDITIONS = Table(
    "patron_block_conditions",
    # name: exact, prefix and sorted searches (btree) and word searches (full text); valueType: a filter
    # that splits the table in two, whose index also gives the planner statistics for totalRecords.
    indexes=(Index("name", "btree"), Index("name", "fulltext"), Index("valueType", "btree")),
    server_choice=("name",),
    optimistic_locking=True,
)

ALL_TABLES: tuple[Table, ...] = (PATRON_BLOCK_CONDITIONS,)
