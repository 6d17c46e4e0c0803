"""The characters that f_unaccent() turns into LIKE or text-search syntax are exactly the ones the
translator maps before escaping (terms.UNACCENT_SPECIALS)."""

from __future__ import annotations

from typing import Any

import asyncpg

from mod_users.cql.terms import UNACCENT_SPECIALS


async def test_table_matches_the_servers_unaccent_rules(cql_db: dict[str, Any]) -> None:
    con = await asyncpg.connect(**cql_db)
    try:
        rows = await con.fetch(
            "SELECT chr(c) AS ch, public.f_unaccent(chr(c)) AS plain "
            "FROM generate_series(1, 1114111) AS c "
            "WHERE c NOT BETWEEN 55296 AND 57343 "  # surrogates are not characters
            "AND public.f_unaccent(chr(c)) <> chr(c) AND public.f_unaccent(chr(c)) ~ '[''%_\\\\]'"
        )
    finally:
        await con.close()
    assert {row["ch"]: row["plain"] for row in rows} == UNACCENT_SPECIALS
