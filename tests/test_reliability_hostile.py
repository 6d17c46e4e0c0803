"""Hostile input found by issue 12 that used to answer 500 or echo itself without bound: CQL nested by
prefix assignments, bodies whose framing or encoding is broken, and error texts that repeated a 380 KB
array or quoted Python's advice about integer digits."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import zlib

import pytest

from mod_users import routing
from mod_users.cql.parser import MAX_NESTING
from mod_users.texts import MESSAGE
from tests.polaris.support import admin_headers, headers, registration_body, url

FOLIO_PATH = "/patron-block-conditions"
CONDITION = {
    "name": "hostile",
    "blockBorrowing": True,
    "blockRenewals": False,
    "blockRequests": False,
    "valueType": "Integer",
    "message": "blocked",
}
# A reply carrying an error must stay short, whatever the request held.
SHORT = 2 * MESSAGE + 500


# -- CQL: every way of nesting is bounded ------------------------------------------------------------
SEARCHES = [
    (FOLIO_PATH, "tenant", lambda tenant: {"X-Okapi-Tenant": tenant}),
    ("/polaris/patrons", "sample_tenant", admin_headers),
    ("/polaris/organizations", "sample_tenant", admin_headers),
]
NESTED = {
    "the issue's 330 prefixes": ">a " * 330 + "x",
    "prefixes with names": ">p=x " * (MAX_NESTING + 1) + "x",
    "prefixes and parentheses": "(>a " * (MAX_NESTING // 2 + 1) + "x" + ")" * (MAX_NESTING // 2 + 1),
    "prefixed boolean operands": "a or >x " * (MAX_NESTING + 1) + "b",
    "thousands of parentheses": "(" * 3000 + "x" + ")" * 3000,
}


@pytest.mark.parametrize(("path", "fixture", "make_headers"), SEARCHES, ids=[s[0] for s in SEARCHES])
@pytest.mark.parametrize("query", list(NESTED.values()), ids=list(NESTED))
async def test_deeply_nested_cql_is_a_400_on_every_search(
    app_client, tenant, sample_tenant, path, fixture, make_headers, query
):
    tenant = {"tenant": tenant, "sample_tenant": sample_tenant}[fixture]
    resp = await app_client.get(path, params={"query": query}, headers=make_headers(tenant))
    text = await resp.text()
    assert resp.status == 400, text[:300]
    assert f"nested deeper than {MAX_NESTING} levels" in text
    assert len(text) < SHORT


async def test_nesting_up_to_the_bound_is_answered(app_client, tenant):
    query = "(" * MAX_NESTING + "name=x" + ")" * MAX_NESTING
    resp = await app_client.get(FOLIO_PATH, params={"query": query}, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 200, await resp.text()


# -- bodies aiohttp cannot read ----------------------------------------------------------------------
def _payload(body: bytes, encoding: str) -> bytes:
    return {
        "not gzip": body,
        "truncated gzip": gzip.compress(body)[:-12],
        "gzip with a corrupt stream": gzip.compress(body)[:12] + b"\x00" * 40,
        "deflate that is not": body,
        "brotli": body,
        "zstd": body,
        "an unknown coding": body,
        "two codings": gzip.compress(body),
    }[encoding]


# kind: (Content-Encoding, what the 400 says)
ENCODINGS = {
    "not gzip": ("gzip", "cannot be decoded as its Content-Encoding ('gzip')"),
    # a stream that ends early is not what the Content-Encoding declares (not a cut-short JSON document)
    "truncated gzip": ("gzip", "cannot be decoded as its Content-Encoding ('gzip')"),
    "gzip with a corrupt stream": ("gzip", "cannot be decoded as its Content-Encoding ('gzip')"),
    "deflate that is not": ("deflate", "cannot be decoded as its Content-Encoding ('deflate')"),
    # codings aiohttp would have answered itself, in plain text, with advice to install a Python package
    "brotli": ("br", "Content-Encoding 'br' is not supported"),
    "zstd": ("zstd", "Content-Encoding 'zstd' is not supported"),
    "an unknown coding": ("foo", "Content-Encoding 'foo' is not supported"),
    "two codings": ("gzip, deflate", "Content-Encoding 'gzip, deflate' is not supported"),
}


async def _raw(client, request: bytes, later: bytes = b"") -> bytes:
    """Send ``request`` as raw bytes to the test server (then, once its handler reads the body, ``later``);
    return the whole answer."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request)
    await writer.drain()
    if later:
        await asyncio.sleep(0.3)
        writer.write(later)
        await writer.drain()
    try:
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *([0-9]+)", head)
            body = await reader.readexactly(int(length.group(1))) if length else await reader.read()
    finally:
        writer.close()
    return head + body


def _request(path: str, head: dict[str, str], extra: str, body: bytes) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{lines}{extra}\r\n".encode() + body


def _folio(tenant: str) -> tuple[str, dict[str, str], bytes]:
    return FOLIO_PATH, {"X-Okapi-Tenant": tenant, "Content-Type": "application/json"}, json.dumps(CONDITION).encode()


def _polaris(tenant: str) -> tuple[str, dict[str, str], bytes]:
    body = json.dumps({"BlockType": 1, "BlockDescription": "hostile"}).encode()
    return url("/patrons/1001/blocks"), {**headers(tenant), "Content-Type": "application/json"}, body


def _assert_400_in_style(answer: bytes, style: str, expected: str) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    if style == "folio":
        assert b"Content-Type: text/plain" in head
        assert expected.encode() in body
    else:
        assert b"Content-Type: application/json" in head
        error = json.loads(body)
        assert error["ErrorCode"] == -1 and expected in error["Message"], error


@pytest.mark.parametrize("style", ["folio", "polaris"])
@pytest.mark.parametrize("kind", list(ENCODINGS))
async def test_a_body_that_cannot_be_decoded_is_a_400_in_the_route_style(app_client, sample_tenant, style, kind):
    path, head, body = (_folio if style == "folio" else _polaris)(sample_tenant)
    payload = _payload(body, kind)
    encoding, expected = ENCODINGS[kind]
    head = {**head, "Content-Encoding": encoding, "Content-Length": str(len(payload))}
    answer = await _raw(app_client, _request(path, head, "", payload))
    _assert_400_in_style(answer, style, expected)


@pytest.mark.parametrize("style", ["folio", "polaris"])
@pytest.mark.parametrize("split", [False, True], ids=["in-one-packet", "while-the-handler-reads"])
async def test_broken_chunked_framing_is_a_4xx_never_a_500(app_client, sample_tenant, monkeypatch, style, split):
    # A chunk whose data runs past its declared size. aiohttp's pure-Python parser hands the handler a
    # RequestPayloadError (read_json answers the route's 400, "not valid chunked transfer encoding"); its
    # C parser answers a 400 of its own when the headers and the broken chunk come together, and leaves
    # a handler that is already reading waiting for the rest, which BODY_SECONDS ends with a 408.
    monkeypatch.setattr(routing, "BODY_SECONDS", 0.5)
    path, head, body = (_folio if style == "folio" else _polaris)(sample_tenant)
    good = f"{len(body):x}\r\n".encode() + body + b"\r\n"
    broken = b"5\r\nabcdefgh\r\n0\r\n\r\n"
    request = _request(path, head, "Transfer-Encoding: chunked\r\n", good)
    answer = await (_raw(app_client, request, broken) if split else _raw(app_client, request + broken))
    status = answer[9:12]
    assert status in (b"400", b"408"), answer[:300]
    if b"not valid chunked" in answer:
        _assert_400_in_style(answer, style, "not valid chunked transfer encoding")


async def test_a_good_gzip_body_is_read(app_client, tenant):
    body = gzip.compress(json.dumps(CONDITION | {"name": "gzipped"}).encode())
    resp = await app_client.post(
        FOLIO_PATH,
        data=body,
        headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert resp.status == 201, await resp.text()


async def test_a_raw_deflate_body_is_read_as_aiohttp_read_it(app_client, tenant):
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # deflate without the zlib header, as many clients send it
    body = packer.compress(json.dumps(CONDITION | {"name": "raw deflate"}).encode()) + packer.flush()
    resp = await app_client.post(
        FOLIO_PATH,
        data=body,
        headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json", "Content-Encoding": "deflate"},
    )
    assert resp.status == 201, await resp.text()


@pytest.mark.parametrize("style", ["folio", "polaris"])
async def test_a_gzip_bomb_is_413_in_the_route_style(app_client, sample_tenant, style):
    path, head, _ = (_folio if style == "folio" else _polaris)(sample_tenant)
    bomb = gzip.compress(b'{"name": "' + b" " * 50_000_000 + b'"}', 9)
    resp = await app_client.post(path, data=bomb, headers={**head, "Content-Encoding": "gzip"})
    assert resp.status == 413
    if style == "polaris":
        assert (await resp.json())["ErrorCode"] == -3


async def test_a_compressed_body_that_inflates_past_the_limit_is_413(app_client, tenant):
    bomb = zlib.compress(b'{"name": "' + b" " * 50_000_000 + b'"}', 9)
    assert len(bomb) < 100_000
    resp = await app_client.post(
        FOLIO_PATH,
        data=bomb,
        headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json", "Content-Encoding": "deflate"},
    )
    assert resp.status == 413


# -- error texts stay short and speak of the API -----------------------------------------------------
async def test_a_400_for_thousands_of_addresses_does_not_repeat_them(app_client, sample_tenant):
    body = registration_body()
    address = body["Registration"]["Addresses"][0]
    body["Registration"]["Addresses"] = [address] * 5000
    assert len(json.dumps(body)) > 380_000
    resp = await app_client.post(url("/patrons"), json=body, headers=headers(sample_tenant))
    text = await resp.text()
    assert resp.status == 400, text[:300]
    assert "Addresses" in text and "at most 100 items" in text
    assert len(text) < SHORT


async def test_a_422_quotes_long_values_and_names_only_in_part(app_client, tenant):
    body = {**CONDITION, "valueType": "v" * 100_000, "x" * 50_000: 1, "message": ["m"] * 20_000}
    resp = await app_client.post(FOLIO_PATH, json=body, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 422
    errors = (await resp.json())["errors"]
    assert {e["parameters"][0]["key"][:5] for e in errors} == {"value", "xxxxx", "messa"}
    for error in errors:
        assert len(error["message"]) <= MESSAGE
        assert len(json.dumps(error["parameters"])) < 400
    assert len(await resp.read()) < SHORT


@pytest.mark.parametrize("style", ["folio", "polaris"])
async def test_a_number_with_thousands_of_digits_is_a_short_400(app_client, sample_tenant, style):
    path, head, _ = (_folio if style == "folio" else _polaris)(sample_tenant)
    body = b'{"name": "n", "BlockType": ' + b"9" * 5000 + b"}"
    resp = await app_client.post(path, data=body, headers=head)
    text = await resp.text()
    assert resp.status == 400, text[:300]
    assert "too many digits" in text or "more than 4300 digits" in text
    assert "sys." not in text and "set_int_max_str_digits" not in text
    assert len(text) < 500


async def test_a_long_cql_term_is_not_repeated_in_the_error(app_client, tenant):
    for query in ("name =/" + "m" * 6000 + " x", "x" * 6000 + "@=y", 'name==x sortBy "' + "s" * 6000):
        resp = await app_client.get(FOLIO_PATH, params={"query": query}, headers={"X-Okapi-Tenant": tenant})
        text = await resp.text()
        assert resp.status == 400, text[:300]
        assert len(text) < 600, text
