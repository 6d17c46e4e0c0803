"""Staff login and PAS on the Polaris listener: the answer, refusals, several tokens, expiry, revocation,
bursts of bad passwords, and logs that never carry a secret."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from mod_users.app import init_app
from mod_users.logs import JsonFormatter
from mod_users.resources.polaris import login, passwords
from mod_users.resources.polaris.listener import init_polaris_app
from tests.conftest import contract_of
from tests.polaris.staff import LOGIN, basic, log_in, new_staff_user, pas, site_url
from tests.polaris.support import admin_headers, is_polaris_error

SUMMARY = "/patrons/1002/blockssummary"
QUERY = {"logonBranchID": "3", "associatedblocks": "false"}
REFUSED = "Invalid domain, user name or password."


async def _refused(resp, scheme="Basic"):
    body = await resp.json()
    assert resp.status == 401 and is_polaris_error(body, -6), body
    assert resp.headers["WWW-Authenticate"] == scheme
    return body


async def _summary(listener, site, auth):
    return await listener.get(site_url(site, SUMMARY), params=QUERY, headers=pas(site, auth))


async def _put_user(app_client, tenant, user, **changes):
    body = {k: v for k, v in user.items() if k != "metadata"} | changes
    resp = await app_client.put(f"/polaris/staff-users/{user['id']}", json=body, headers=admin_headers(tenant))
    assert resp.status == 204, await resp.text()


async def test_login_answers_as_polaris_does(app_client, listener, sample_tenant):
    user, password = await new_staff_user(app_client, sample_tenant)
    before = datetime.now(UTC)
    auth = await log_in(listener, user, password)
    assert auth["SiteDomain"] == sample_tenant and auth["UserDomain"] == user["UserDomain"]
    assert len(auth["AccessToken"]) == 32 and len(auth["AccessSecret"]) == 32 and auth["AccessToken"].isalnum()
    expires = datetime.fromisoformat(auth["AuthExpDate"])
    assert before + timedelta(hours=24) <= expires <= datetime.now(UTC) + timedelta(hours=24)
    assert auth["PolarisUser"] | {"CreationDate": None} == {
        "PolarisUserID": user["PolarisUserID"],
        "OrganizationID": 1,
        "Name": user["UserName"],
        "BranchID": 3,
        "Enabled": True,
        "CreatorID": None,
        "ModifierID": None,
        "CreationDate": None,
        "ModificationDate": None,
    }
    resp = await _summary(listener, sample_tenant, auth)
    assert resp.status == 200 and [r["BlockID"] for r in await resp.json()] == [64, 1024]


async def test_domains_and_names_are_compared_ignoring_case(app_client, listener, sample_tenant):
    user, password = await new_staff_user(app_client, sample_tenant)
    resp = await listener.post(
        LOGIN.replace("polaris.applicationservices", "Polaris.ApplicationServices"),
        headers={"Authorization": basic(sample_tenant.lower(), user["UserName"].upper(), password)},
    )
    assert resp.status == 200, await resp.text()
    resp = await _summary(listener, sample_tenant.upper(), await resp.json())
    assert resp.status == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer eyJhbGciOiJub25lIn0.e30.x",
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"\xff\xfe").decode(),
        "Basic " + base64.b64encode(b"no-domain:password").decode(),
        "Basic " + base64.b64encode(b"DOMAIN\\user-without-password").decode(),
        "Basic " + base64.b64encode(b"DOMAIN\\:password").decode(),
        "Basic " + base64.b64encode(b"\\user:password").decode(),
        "Basic " + "A" * 5000,
    ],
)
async def test_malformed_logins_are_401(listener, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    await _refused(await listener.post(LOGIN, headers=headers))


async def test_every_refused_login_reads_alike(app_client, listener, sample_tenant, fresh_tenant):
    user, password = await new_staff_user(app_client, sample_tenant)
    disabled, disabled_password = await new_staff_user(app_client, sample_tenant, Enabled=False)
    tries = [
        (user["UserDomain"], user["UserName"], password + "x"),  # wrong password
        (user["UserDomain"], "nobody-" + user["UserName"], password),  # unknown user
        (disabled["UserDomain"], disabled["UserName"], disabled_password),  # disabled
        ("NO_SUCH_TENANT", user["UserName"], password),  # a domain naming no initialised tenant
        ("Bad-Domain!", user["UserName"], password),  # a domain naming no possible tenant
        (fresh_tenant, user["UserName"], password),  # another tenant, which has no such user
    ]
    bodies = []
    for domain, name, secret in tries:
        bodies.append(
            await _refused(await listener.post(LOGIN, headers={"Authorization": basic(domain, name, secret)}))
        )
    assert all(body["Message"] == REFUSED for body in bodies)
    assert len({json.dumps(body, sort_keys=True) for body in bodies}) == 1


async def test_a_user_holds_several_live_tokens(app_client, listener, sample_tenant):
    user, password = await new_staff_user(app_client, sample_tenant)
    first, second = await log_in(listener, user, password), await log_in(listener, user, password)
    assert first["AccessToken"] != second["AccessToken"]
    for auth in (first, second, first):
        assert (await _summary(listener, sample_tenant, auth)).status == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "PAS",
        "Basic dXNlcjpwdw==",
        "PAS {site}:{token}",
        "PAS {site}:{token}:{secret}:extra",
        "PAS {site}::{secret}",
        "PAS {site}:{token}:{secret}x",  # wrong secret
        "PAS {site}:x{token}:{secret}",  # unknown token
        "PAS other_site:{token}:{secret}",  # another site domain than the URL's
        "PAS bad-site!:{token}:{secret}",  # a site domain naming no possible tenant
        "PAS " + "A" * 2000,
    ],
)
async def test_pas_refusals_are_401(app_client, listener, sample_tenant, header):
    user, password = await new_staff_user(app_client, sample_tenant)
    auth = await log_in(listener, user, password)
    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(
            site=sample_tenant, token=auth["AccessToken"], secret=auth["AccessSecret"]
        )
    resp = await listener.get(site_url(sample_tenant, SUMMARY), params=QUERY, headers=headers)
    body = await _refused(resp, "PAS")
    assert auth["AccessToken"] not in body["Message"] and auth["AccessSecret"] not in body["Message"]


async def test_gateway_headers_from_outside_are_never_believed(app_client, listener, sample_tenant):
    gateway = {
        "X-Okapi-Tenant": sample_tenant,
        "X-Okapi-Permissions": json.dumps(["polaris.patron-status.blocks.view"]),
        "X-Okapi-User-Id": "2205005b-ca51-4a04-87fd-938eefa8f6de",
    }
    await _refused(await listener.get(site_url(sample_tenant, SUMMARY), params=QUERY, headers=gateway), "PAS")
    # and with a token, the gateway's permissions do not add to the staff user's
    user, password = await new_staff_user(app_client, sample_tenant, permissions=[])
    auth = await log_in(listener, user, password)
    resp = await listener.get(
        site_url(sample_tenant, SUMMARY), params=QUERY, headers={**gateway, **pas(sample_tenant, auth)}
    )
    assert resp.status == 403


async def test_tokens_expire(aiohttp_client, settings, db_settings, sample_tenant):
    short = dataclasses.replace(settings, polaris_token_seconds=600)
    folio = await aiohttp_client(init_app(short, db_settings, contract_of(short.contract_dir)))
    listener = await aiohttp_client(init_polaris_app(folio.server.app))
    user, password = await new_staff_user(folio, sample_tenant)
    auth = await log_in(listener, user, password)
    expires = datetime.fromisoformat(auth["AuthExpDate"])
    assert timedelta(seconds=590) < expires - datetime.now(UTC) <= timedelta(seconds=600)
    assert (await _summary(listener, sample_tenant, auth)).status == 200
    await _age_token(folio, sample_tenant, auth["AccessToken"], seconds=601)
    await _refused(await _summary(listener, sample_tenant, auth), "PAS")
    assert (await _summary(listener, sample_tenant, await log_in(listener, user, password))).status == 200


async def _age_token(app_client, tenant, token, seconds):
    """Make a token as old as ``seconds`` would (its expiry moved back by as much)."""
    from mod_users.resources.polaris.tokens import _row_id, stamp
    from mod_users.state import STORE
    from mod_users.storage.tables import POLARIS_STAFF_TOKENS
    from mod_users.storage.tenants import TenantSchema

    store, ts = app_client.server.app[STORE], TenantSchema(tenant)
    row = await store.get(ts, POLARIS_STAFF_TOKENS, _row_id(token))
    aged = datetime.fromisoformat(row["ExpiresAt"]) - timedelta(seconds=seconds)
    changed = {k: v for k, v in row.items() if k != "metadata"} | {"ExpiresAt": stamp(aged)}
    await store.update(ts, POLARIS_STAFF_TOKENS, row["id"], changed, None)


async def test_disabling_a_user_ends_its_tokens_for_good(app_client, listener, sample_tenant):
    user, password = await new_staff_user(app_client, sample_tenant)
    first, second = await log_in(listener, user, password), await log_in(listener, user, password)
    await _put_user(app_client, sample_tenant, user, Enabled=False)
    for auth in (first, second):
        await _refused(await _summary(listener, sample_tenant, auth), "PAS")
    await _refused(
        await listener.post(LOGIN, headers={"Authorization": basic(user["UserDomain"], user["UserName"], password)})
    )
    stored = await (
        await app_client.get(f"/polaris/staff-users/{user['id']}", headers=admin_headers(sample_tenant))
    ).json()
    await _put_user(app_client, sample_tenant, stored, Enabled=True)
    # enabled again, the user logs in anew; the tokens it had stay dead
    await _refused(await _summary(listener, sample_tenant, first), "PAS")
    assert (await _summary(listener, sample_tenant, await log_in(listener, user, password))).status == 200


async def test_deleting_a_user_ends_its_tokens_and_its_login(app_client, listener, sample_tenant):
    user, password = await new_staff_user(app_client, sample_tenant)
    auth = await log_in(listener, user, password)
    resp = await app_client.delete(f"/polaris/staff-users/{user['id']}", headers=admin_headers(sample_tenant))
    assert resp.status == 204
    await _refused(await _summary(listener, sample_tenant, auth), "PAS")
    await _refused(
        await listener.post(LOGIN, headers={"Authorization": basic(user["UserDomain"], user["UserName"], password)})
    )


async def test_a_new_password_or_name_ends_the_old_tokens(app_client, listener, sample_tenant):
    user, password = await new_staff_user(app_client, sample_tenant)
    auth = await log_in(listener, user, password)
    await _put_user(app_client, sample_tenant, user, Password="a-new-password-1")
    await _refused(await _summary(listener, sample_tenant, auth), "PAS")
    await _refused(
        await listener.post(LOGIN, headers={"Authorization": basic(user["UserDomain"], user["UserName"], password)})
    )
    auth = await log_in(listener, user, "a-new-password-1")
    stored = await (
        await app_client.get(f"/polaris/staff-users/{user['id']}", headers=admin_headers(sample_tenant))
    ).json()
    await _put_user(app_client, sample_tenant, stored, UserName=user["UserName"] + "-renamed")
    await _refused(await _summary(listener, sample_tenant, auth), "PAS")
    await _refused(
        await listener.post(
            LOGIN, headers={"Authorization": basic(user["UserDomain"], user["UserName"], "a-new-password-1")}
        )
    )
    renamed = {**user, "UserName": user["UserName"] + "-renamed"}
    assert (await _summary(listener, sample_tenant, await log_in(listener, renamed, "a-new-password-1"))).status == 200
    # an unchanged replace keeps the tokens
    auth = await log_in(listener, renamed, "a-new-password-1")
    stored = await (
        await app_client.get(f"/polaris/staff-users/{user['id']}", headers=admin_headers(sample_tenant))
    ).json()
    await _put_user(app_client, sample_tenant, stored, Permissions=stored["Permissions"][:1])
    assert (await _summary(listener, sample_tenant, auth)).status == 200


@pytest.fixture
def hashing(monkeypatch):
    """How many times a password was checked against its slow hash."""
    calls = []
    matches = passwords._matches

    def counted(password, stored):
        calls.append(stored)
        return matches(password, stored)

    monkeypatch.setattr(passwords, "_matches", counted)
    return calls


async def _let_the_lock_run_out(app_client, tenant, domain, name):
    """Move the login name's lock into the past, as five minutes would."""
    from mod_users.resources.polaris.staff_users import login_name, login_row_id
    from mod_users.state import STORE
    from mod_users.storage.tables import POLARIS_STAFF_LOGINS
    from mod_users.storage.tenants import TenantSchema

    store, ts = app_client.server.app[STORE], TenantSchema(tenant)
    row = await store.get(ts, POLARIS_STAFF_LOGINS, login_row_id(login_name(domain, name)))
    assert row["LockedUntil"] is not None
    past = {k: v for k, v in row.items() if k != "metadata"} | {"LockedUntil": "2000-01-01T00:00:00.000+00:00"}
    await store.update(ts, POLARIS_STAFF_LOGINS, row["id"], past, None)


@pytest.mark.parametrize("known", [True, False], ids=["known name", "unknown name"])
async def test_a_burst_of_bad_passwords_gets_five_checked_answers_then_a_lock(
    app_client, listener, sample_tenant, hashing, known
):
    user, password = await new_staff_user(app_client, sample_tenant)
    name = user["UserName"] if known else "ghost-" + user["UserName"]
    wrong = {"Authorization": basic(user["UserDomain"], name, "not-" + password)}
    answers = await asyncio.gather(*(listener.post(LOGIN, headers=wrong) for _ in range(20)))
    bodies = [await _refused(resp) for resp in answers]
    assert len({json.dumps(b, sort_keys=True) for b in bodies}) == 1  # locked or not, the same answer
    assert len(hashing) == login.MAX_FAILURES  # the rest were refused without checking a password
    # while locked, not even the right password is checked
    right = {"Authorization": basic(user["UserDomain"], name, password)}
    await _refused(await listener.post(LOGIN, headers=right))
    assert len(hashing) == login.MAX_FAILURES
    await _let_the_lock_run_out(app_client, sample_tenant, user["UserDomain"], name)
    if known:
        assert (await listener.post(LOGIN, headers=right)).status == 200
        # a success clears the count: four more failures do not lock it
        for _ in range(login.MAX_FAILURES - 1):
            await _refused(await listener.post(LOGIN, headers=wrong))
        assert (await listener.post(LOGIN, headers=right)).status == 200
    else:
        await _refused(await listener.post(LOGIN, headers=right))


async def test_a_recently_verified_password_is_not_hashed_again(app_client, listener, sample_tenant, hashing):
    user, password = await new_staff_user(app_client, sample_tenant)
    for _ in range(5):
        await log_in(listener, user, password)
    assert len(hashing) == 1


async def test_no_secret_ever_reaches_a_log_line(app_client, listener, sample_tenant):
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Capture(level=logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        user, password = await new_staff_user(app_client, sample_tenant, Password="s3cret-Passw0rd-of-dcb")
        auth = await log_in(listener, user, password)
        wrong = basic(user["UserDomain"], user["UserName"], "Wr0ng-Guess-of-an-attacker")
        await _refused(await listener.post(LOGIN, headers={"Authorization": wrong}))
        assert (await _summary(listener, sample_tenant, auth)).status == 200
        bad_secret = {**auth, "AccessSecret": "Forged" + auth["AccessSecret"][6:]}
        await _refused(await _summary(listener, sample_tenant, bad_secret), "PAS")
        await _put_user(app_client, sample_tenant, user, Password="An0ther-s3cret-password")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logged = "\n".join(lines)
    assert '"message": "staff login"' in logged and '"message": "request"' in logged  # the capture works
    secrets = (
        "s3cret-Passw0rd-of-dcb",
        "Wr0ng-Guess-of-an-attacker",
        "An0ther-s3cret-password",
        auth["AccessToken"],
        auth["AccessSecret"],
        bad_secret["AccessSecret"],
        wrong.split()[1],
        basic(user["UserDomain"], user["UserName"], password).split()[1],
    )
    for secret in secrets:
        assert secret not in logged


async def test_logins_now_and_then_delete_expired_tokens(app_client, listener, sample_tenant, monkeypatch):
    from mod_users.resources.polaris.tokens import _row_id
    from mod_users.state import STORE
    from mod_users.storage.tables import POLARIS_STAFF_TOKENS
    from mod_users.storage.tenants import TenantSchema

    user, password = await new_staff_user(app_client, sample_tenant)
    old, live = await log_in(listener, user, password), await log_in(listener, user, password)
    await _age_token(app_client, sample_tenant, old["AccessToken"], seconds=86_401)
    monkeypatch.setattr(login, "PURGE_ONE_IN", 1)  # every login purges
    await log_in(listener, user, password)
    store, ts = app_client.server.app[STORE], TenantSchema(sample_tenant)
    assert await store.get(ts, POLARIS_STAFF_TOKENS, _row_id(old["AccessToken"])) is None
    assert await store.get(ts, POLARIS_STAFF_TOKENS, _row_id(live["AccessToken"])) is not None
    assert (await _summary(listener, sample_tenant, live)).status == 200
