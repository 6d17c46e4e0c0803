"""``<`` ``<=`` ``>`` ``>=`` against a real table: numbers compare numerically whatever indexes are declared.

The same queries run with no index declared on the field and with each kind of index that serves a range
or an exact match (all of them exist in the table): a declaration may change the SQL, never the result.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from mod_users.cql import Index, translate

from .dbutil import drop_schema, load_table

SCHEMA = "cql_ranges"
TABLE = f"{SCHEMA}.measures"
RECORDS = {
    "four": 4,
    "ten": 10,
    "minus four": -4,
    "two and a half": 2.5,
    "minus half": -0.5,
    "hundred": 100,
    "seven as text": "7",
    "word": "abc",
    "none": None,
}
# Every index a field can have that a range or an exact match uses (a unique index needs unique values:
# they are). The table has all of them; each test declares one of them, or none.
PHYSICAL = (
    Index("n", "btree"),
    Index("n", "unique"),
    Index("n", "gin"),
    Index("n", "btree", case_sensitive=True, remove_accents=False),
)
DECLARED = [
    pytest.param((), id="no index"),
    *(pytest.param((index,), id=f"{index.kind} {n}") for n, index in enumerate(PHYSICAL)),
]
NUMBERS = ["four", "ten", "minus four", "two and a half", "minus half", "hundred"]


@pytest.fixture(scope="module")
def measures(cql_db: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """cql_ranges.measures: one record per RECORDS entry, ``n`` holding its value (absent for None)."""

    records = [(uuid.uuid4(), {"name": name, **({} if n is None else {"n": n})}) for name, n in RECORDS.items()]
    load_table(cql_db, SCHEMA, TABLE, records, PHYSICAL, "measures")
    yield cql_db
    drop_schema(cql_db, SCHEMA)


async def find(db: dict[str, Any], query: str, indexes: tuple[Index, ...]) -> list[str]:
    translation = translate(query, indexes=indexes)
    con = await asyncpg.connect(**db)
    try:
        rows = await con.fetch(f"SELECT jsonb->>'name' FROM {TABLE} WHERE {translation.where}", *translation.params)
    finally:
        await con.close()
    return sorted(row[0] for row in rows)


@pytest.mark.parametrize("indexes", DECLARED)
@pytest.mark.parametrize(
    ("query", "names"),
    [
        # JSON numbers in numeric order; the string values in string order ("7" < "5" is false, "abc" > "10").
        ("n<5", ["four", "minus four", "two and a half", "minus half"]),
        ("n<=4", ["four", "minus four", "two and a half", "minus half"]),
        ("n>=10", ["ten", "hundred", "seven as text", "word"]),
        ("n>4", ["ten", "hundred", "seven as text", "word"]),
        ("n>-1", ["four", "ten", "two and a half", "minus half", "hundred", "seven as text", "word"]),
        ("n<=-4", ["minus four"]),
        ("n<-0.5", ["minus four"]),
        ("n<=-0.5", ["minus four", "minus half"]),
        ("n>2.5", ["four", "ten", "hundred", "seven as text", "word"]),
        ("n>=2.50", ["four", "ten", "two and a half", "hundred", "seven as text", "word"]),
        ("n<1e1", ["four", "minus four", "two and a half", "minus half"]),
        ("n>+99.9", ["hundred", "seven as text", "word"]),
        # /string: the string order for every value ("10" < "5", "-4" < "5")
        ("n</string 5", ["four", "ten", "minus four", "two and a half", "minus half", "hundred"]),
        ("n>=/string 5", ["seven as text", "word"]),
        # a term that is not a number: the string order
        ("n<a", [*NUMBERS, "seven as text"]),
        ("n>=abc", ["word"]),
    ],
)
async def test_numbers_compare_numerically_whatever_the_indexes(
    measures: dict[str, Any], query: str, names: list[str], indexes: tuple[Index, ...]
) -> None:
    assert await find(measures, query, indexes) == sorted(names)


@pytest.mark.parametrize("indexes", DECLARED)
async def test_number_modifier_agrees(measures: dict[str, Any], indexes: tuple[Index, ...]) -> None:
    # /number also reads numeric strings and never matches other values; on JSON numbers it agrees.
    assert await find(measures, "n</number 5", indexes) == sorted(
        ["four", "minus four", "two and a half", "minus half"]
    )
    assert await find(measures, "n>=/number 7", indexes) == ["hundred", "seven as text", "ten"]
