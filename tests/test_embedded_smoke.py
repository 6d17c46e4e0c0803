import asyncpg

from mod_users.storage.database import connect_kwargs, ensure_shared_objects


async def test_database_answers(db_settings):
    con = await asyncpg.connect(**connect_kwargs(db_settings))
    try:
        await ensure_shared_objects(con)
        assert await con.fetchval("SELECT lower(public.f_unaccent('ÉCOLE'))") == "ecole"
    finally:
        await con.close()
