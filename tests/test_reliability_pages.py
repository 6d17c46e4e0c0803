"""Big pages are streamed (issue 12, item 7): ``limit=2147483647`` (the RAML's maximum) on a 207,000-record
table was a 41 MB body built in memory, and six at once took the service from 144 MB to 1.4 GB. A page
larger than one chunk is now read from a cursor and written as it comes, so memory stays that of a chunk."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import tracemalloc

import aiohttp
import pytest

from mod_users.storage.errors import DatabaseUnavailable
from mod_users.storage.records import PAGE_CHUNK, PageReader, RecordStore
from tests.conftest import _init_tenant, _purge_tenant, unique_tenant
from tests.faults import insert_conditions

PATH = "/patron-block-conditions"
ROWS = 20 * PAGE_CHUNK + 357


@pytest.fixture(scope="module")
def big_tenant(db_settings, settings):
    """A tenant of this module's own with ROWS patron block conditions (inserted in one statement)."""
    name = unique_tenant("big")
    asyncio.run(_init_tenant(db_settings, name, settings, reference=False))
    asyncio.run(insert_conditions(db_settings, name, ROWS))
    yield name
    asyncio.run(_purge_tenant(db_settings, name))


async def test_a_whole_table_page_is_streamed_in_bounded_memory(app_client, big_tenant):
    h = {"X-Okapi-Tenant": big_tenant}
    with tempfile.TemporaryFile() as body:
        tracemalloc.start()
        try:
            resp = await app_client.get(PATH, params={"limit": "2147483647", "query": "cql.allRecords=1"}, headers=h)
            assert resp.status == 200
            async for chunk in resp.content.iter_chunked(65536):  # kept on disk: only the server is measured
                body.write(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        size = body.tell()
        body.seek(0)
        page = json.load(body)
    assert len(page["patronBlockConditions"]) == ROWS == page["totalRecords"]
    assert size > 5_000_000
    # The whole page in memory (rows as Python objects, then the encoded body) is several times its size.
    assert peak < size / 3, f"peak {peak} bytes for a body of {size}"
    assert resp.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in resp.headers


async def test_a_streamed_page_is_the_same_as_its_pages(app_client, big_tenant):
    # 3.5 chunks from a cursor against the same records asked for one chunk at a time.
    h = {"X-Okapi-Tenant": big_tenant}
    query = "name=condition* sortBy name/sort.descending"
    wanted = 3 * PAGE_CHUNK + PAGE_CHUNK // 2
    resp = await app_client.get(PATH, params={"query": query, "limit": str(wanted), "offset": "7"}, headers=h)
    assert "Content-Length" not in resp.headers
    streamed = await resp.json()
    paged = []
    for offset in range(7, 7 + wanted, PAGE_CHUNK):
        params = {"query": query, "limit": str(min(PAGE_CHUNK, 7 + wanted - offset)), "offset": str(offset)}
        resp = await app_client.get(PATH, params=params, headers=h)
        assert "Content-Length" in resp.headers  # a page of one chunk is answered whole
        paged += (await resp.json())["patronBlockConditions"]
    assert streamed["patronBlockConditions"] == paged
    assert len(paged) == wanted
    assert [r["name"] for r in paged[:2]] == [f"condition {ROWS - 7:06d}", f"condition {ROWS - 8:06d}"]
    assert streamed["totalRecords"] >= 7 + wanted  # a page never contradicts its total (RMB)


async def test_a_page_of_exactly_one_chunk_more(app_client, big_tenant):
    resp = await app_client.get(
        PATH,
        params={"limit": str(2 * PAGE_CHUNK), "offset": str(ROWS - 2 * PAGE_CHUNK)},
        headers={"X-Okapi-Tenant": big_tenant},
    )
    page = await resp.json()
    assert len(page["patronBlockConditions"]) == 2 * PAGE_CHUNK
    assert page["totalRecords"] == ROWS


async def test_a_failure_mid_stream_cuts_the_transfer_off(app_client, tenant, monkeypatch, caplog):
    # Once the 200 is out an error cannot be answered: the client must see a broken transfer, not a short
    # list that looks whole. The database "fails" after the first chunk.
    real = RecordStore.open_page

    def failing_page(self, *args, **kwargs):
        async def rest():
            yield ['{"id": "late"}']
            raise DatabaseUnavailable("database unavailable: injected")

        class Page:
            async def __aenter__(self):
                self.inner = real(self_store, *args, **kwargs)
                page = await self.inner.__aenter__()
                return PageReader([page.first[0]] if page.first else ['{"id": "x"}'], rest(), page.total)

            async def __aexit__(self, *exc):
                return await self.inner.__aexit__(*exc)

        self_store = self
        return Page()

    monkeypatch.setattr(RecordStore, "open_page", failing_page)
    caplog.set_level(logging.WARNING, "mod_users.resources.crud")
    resp = await app_client.get(PATH, params={"limit": "5000"}, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
    assert any("streamed page cut off" in r.getMessage() for r in caplog.records)
    # and the service goes on
    monkeypatch.setattr(RecordStore, "open_page", real)
    assert (await app_client.get(PATH, params={"limit": "5000"}, headers={"X-Okapi-Tenant": tenant})).status == 200
