"""Reference and sample data loaded at tenant init (``loadReference`` / ``loadSample``).

Records are plain JSON files, one per record, in a folder per table (``reference-data/<folder>/``),
as FOLIO modules keep them. Each is validated against its schema before it is stored, and a record whose
id already exists is left alone, so a library's edits survive a re-init.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mod_users.contract import SchemaRegistry
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import (
    PATRON_BLOCK_CONDITIONS,
    POLARIS_BLOCK_DESCRIPTIONS,
    POLARIS_COUNTRIES,
    POLARIS_ORGANIZATIONS,
    POLARIS_PATRONS,
    POLARIS_WORKSTATIONS,
    Table,
)
from mod_users.storage.tenants import TenantSchema


@dataclass(frozen=True)
class DataSet:
    """A folder of records for one table, and the schema every record must satisfy."""

    folder: str
    table: Table
    schema: str


REFERENCE_DATA: tuple[DataSet, ...] = (
    DataSet("patron-block-conditions", PATRON_BLOCK_CONDITIONS, "patron-block-condition.json"),
    DataSet("polaris-countries", POLARIS_COUNTRIES, "polaris/country.json"),
)
# In dependency order: organisations before what refers to them.
SAMPLE_DATA: tuple[DataSet, ...] = (
    DataSet("polaris-organizations", POLARIS_ORGANIZATIONS, "polaris/organization.json"),
    DataSet("polaris-block-descriptions", POLARIS_BLOCK_DESCRIPTIONS, "polaris/block-description.json"),
    DataSet("polaris-workstations", POLARIS_WORKSTATIONS, "polaris/workstation.json"),
    DataSet("polaris-patrons", POLARIS_PATRONS, "polaris/patron.json"),
)


def read_records(root: Path, data_set: DataSet, schemas: SchemaRegistry) -> list[dict]:
    """Every record of ``data_set`` under ``root``, checked against its schema (ValueError if one fails)."""
    records = []
    for path in sorted((root / data_set.folder).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        errors = schemas.errors(data_set.schema, record)
        if errors:
            raise ValueError(f"{path.name} does not satisfy {data_set.schema}: {errors[0].field} {errors[0].message}")
        records.append(record)
    return records


async def load_data_sets(
    store: RecordStore, ts: TenantSchema, root: Path, data_sets: tuple[DataSet, ...], schemas: SchemaRegistry
) -> list[str]:
    """Insert the records that are not there yet; return one message per data set."""
    messages = []
    for data_set in data_sets:
        records = read_records(root, data_set, schemas)
        added = 0
        for record in records:
            added += await store.upsert_missing(ts, data_set.table, record)
        messages.append(f"{data_set.folder}: {added} of {len(records)} records added")
    return messages
