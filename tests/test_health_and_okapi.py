"""/admin/health, and reading the X-Okapi-* headers."""

from __future__ import annotations

import base64
import json

from mod_users.app import init_app
from mod_users.config import DatabaseSettings
from mod_users.okapi import context_from_headers, token_payload
from mod_users.storage.embedded import free_port


def _token(claims):
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"


async def test_health_is_200_when_the_database_answers(app_client):
    resp = await app_client.get("/admin/health")
    assert resp.status == 200


async def test_health_and_data_routes_are_503_without_a_database(aiohttp_client, settings):
    nowhere = DatabaseSettings(host="127.0.0.1", port=free_port(), password="x")
    client = await aiohttp_client(init_app(settings, nowhere))
    assert (await client.get("/admin/health")).status == 503
    resp = await client.get("/patron-block-conditions", headers={"X-Okapi-Tenant": "diku"})
    assert resp.status == 503
    assert "unavailable" in (await resp.text()).lower()


def test_user_id_header_wins_over_the_token():
    user = "11111111-1111-4111-8111-111111111111"
    other = "22222222-2222-4222-8222-222222222222"
    ctx = context_from_headers({"X-Okapi-User-Id": user, "X-Okapi-Token": _token({"user_id": other})})
    assert ctx.user_id == user


def test_user_id_from_token_claims():
    user = "22222222-2222-4222-8222-222222222222"
    assert context_from_headers({"X-Okapi-Token": _token({"user_id": user})}).user_id == user
    assert context_from_headers({"X-Okapi-Token": _token({"sub": user})}).user_id == user


def test_user_id_falls_back_past_candidates_that_are_not_uuids():
    user = "33333333-3333-4333-8333-333333333333"
    other = "44444444-4444-4444-8444-444444444444"
    token = _token({"user_id": user, "sub": other})
    # a malformed header does not hide the token's valid user_id
    assert context_from_headers({"X-Okapi-User-Id": "admin", "X-Okapi-Token": token}).user_id == user
    # a user_id that is not a UUID gives way to a sub that is one
    assert context_from_headers({"X-Okapi-Token": _token({"user_id": "42", "sub": other})}).user_id == other
    assert (
        context_from_headers({"X-Okapi-User-Id": "x", "X-Okapi-Token": _token({"user_id": 7, "sub": other})}).user_id
        == other
    )
    # a FOLIO token (username in sub) with a malformed user_id gives no user, and the username stays readable
    ctx = context_from_headers({"X-Okapi-User-Id": "x", "X-Okapi-Token": _token({"user_id": "?", "sub": "diku_admin"})})
    assert (ctx.user_id, ctx.username) == (None, "diku_admin")
    assert context_from_headers({"X-Okapi-User-Id": f" {user.upper()} "}).user_id == user


def test_unreadable_tokens_and_non_uuid_users_give_no_user():
    for token in ("", "abc", "a.!!!.c", "a." + base64.urlsafe_b64encode(b"[1]").decode() + ".c", "x" * 20000):
        assert context_from_headers({"X-Okapi-Token": token}).user_id is None
    assert context_from_headers({"X-Okapi-User-Id": "admin'--"}).user_id is None
    assert token_payload(None) == {}


def test_permissions_header_is_a_json_array():
    ctx = context_from_headers({"X-Okapi-Permissions": '["a.get", "b.post", 3]'})
    assert ctx.permissions == frozenset({"a.get", "b.post"})
    assert context_from_headers({"X-Okapi-Permissions": "a.get"}).permissions == frozenset()
    assert context_from_headers({"X-Okapi-Permissions": '{"a": 1}'}).permissions == frozenset()


def test_request_id_is_kept_or_made():
    assert context_from_headers({"X-Okapi-Request-Id": "123/abc"}).request_id == "123/abc"
    made = context_from_headers({}).request_id
    assert len(made) == 6 and made.isdigit()
