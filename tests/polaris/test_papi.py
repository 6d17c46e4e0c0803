"""PAPI on the Polaris listener: PWS signatures as RCPL's polaris-api and DCB compute them, clock skew, access
keys, circulation blocks, and DCB's staff override."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.polaris.staff import new_staff_user
from tests.polaris.support import SECURED_PATRON, admin_headers

PUBLIC = "/PAPIService/REST/public/v1/1033/100/1"
PROTECTED = "/PAPIService/REST/protected/v1/1033/100/1"
SAMPLE_BARCODE = "21001000000028"  # patron 1002: system blocks 64 and 1024


def polaris_date(moment: datetime | None = None) -> str:
    """RFC 1123, as RCPL (gmdate('r') with GMT) and DCB (DateTimeFormatter.RFC_1123_DATE_TIME) write it."""
    return format_datetime(moment or datetime.now(UTC), usegmt=True)


def sign(key: str, method: str, url: str, date: str, secret: str = "") -> str:
    """PAPI's signature, written as RCPL's Client::signature has it."""
    return base64.b64encode(
        hmac.new(key.encode(), (method + url + date + secret).encode(), hashlib.sha1).digest()
    ).decode()


async def _key(app_client, tenant: str, **fields) -> dict:
    body = {"AccessID": f"app-{uuid.uuid4().hex[:8]}", "Name": "test", "Enabled": True, **fields}
    resp = await app_client.post("/polaris/papi-keys", json=body, headers=admin_headers(tenant))
    assert resp.status == 201, await resp.text()
    return await resp.json()


def _signed(listener, key: dict, tenant: str, method: str, path: str, *, secret: str = "", **options) -> dict:
    """Headers of a PWS-signed call (``options``: date, url, header_date, access)."""
    date = options.get("date") or polaris_date()
    url = options.get("url") or str(listener.make_url(path))
    access = options.get("access") or f"{key['AccessID']}@{tenant}"
    signature = sign(key["AccessKey"], method, url, date, secret)
    return {"Authorization": f"PWS {access}:{signature}", options.get("header_date", "PolarisDate"): date}


async def _blocks(listener, key, tenant, barcode=SAMPLE_BARCODE, **options):
    path = f"{PUBLIC}/patron/{barcode}/circulationblocks"
    return await listener.get(path, headers=_signed(listener, key, tenant, "GET", path, **options))


async def _refused(resp) -> dict:
    body = await resp.json()
    assert resp.status == 401 and body["PAPIErrorCode"] == -6 and set(body) == {"PAPIErrorCode", "ErrorMessage"}, body
    assert resp.headers["WWW-Authenticate"] == "PWS"
    return body


async def test_keys_are_shown_once(app_client, sample_tenant):
    key = await _key(app_client, sample_tenant)
    assert len(key["AccessKey"]) >= 16
    again = await (await app_client.get(f"/polaris/papi-keys/{key['id']}", headers=admin_headers(sample_tenant))).json()
    assert "AccessKey" not in again and again["AccessID"] == key["AccessID"]
    listing = await (
        await app_client.get(
            "/polaris/papi-keys", params={"query": f"AccessID=={key['AccessID']}"}, headers=admin_headers(sample_tenant)
        )
    ).json()
    assert listing["totalRecords"] == 1 and "AccessKey" not in listing["papiKeys"][0]
    resp = await app_client.post(
        "/polaris/papi-keys",
        json={"AccessID": key["AccessID"].upper(), "Enabled": True},
        headers=admin_headers(sample_tenant),
    )
    assert resp.status == 422  # the same access id, ignoring case


async def test_circulation_blocks_as_papi_answers_them(app_client, listener, sample_tenant):
    key = await _key(app_client, sample_tenant)
    resp = await _blocks(listener, key, sample_tenant)
    assert resp.status == 200, await resp.text()
    result = await resp.json()
    assert result == {
        "PAPIErrorCode": 0,
        "ErrorMessage": "",
        "Barcode": SAMPLE_BARCODE,
        "ValidPatron": True,
        "PatronID": 1002,
        "PatronCodeID": 1,
        "AssignedBranchID": 3,
        "PatronBarcode": SAMPLE_BARCODE,
        "AssignedBranchName": "Riverside Main Branch",
        "ExpirationDate": "/Date(1819756800000+0000)/",
        "OverridePasswordUsed": False,
        "Blocks": [
            {"PatronID": 1002, "PatronName": "Babbage, Charles", "BlockDescription": "Self-registration from PAC"},
            {"PatronID": 1002, "PatronName": "Babbage, Charles", "BlockDescription": "Sent to collection agency"},
        ],
        "CanPatronCirculate": False,
        "EmailAddress": "charles@example.org",
        "NameFirst": "Charles",
        "NameLast": "Babbage",
        "NameMiddle": None,
    }
    clear = await (await _blocks(listener, key, sample_tenant, "21001000000011")).json()
    assert (clear["PatronID"], clear["Blocks"], clear["CanPatronCirculate"]) == (1001, [], True)
    unknown = await _blocks(listener, key, sample_tenant, "NO-SUCH-BARCODE")
    assert unknown.status == 200
    body = await unknown.json()
    assert (body["PAPIErrorCode"], body["ValidPatron"], body["CanPatronCirculate"]) == (-3000, False, False)


async def test_a_secured_patrons_details_are_not_disclosed(app_client, listener, sample_tenant):
    key = await _key(app_client, sample_tenant)
    patron = await (
        await app_client.get(
            "/polaris/patrons", params={"query": f"PatronID=={SECURED_PATRON}"}, headers=admin_headers(sample_tenant)
        )
    ).json()
    result = await (await _blocks(listener, key, sample_tenant, patron["patrons"][0]["Barcode"])).json()
    assert result["ValidPatron"] is True and result["PatronID"] == SECURED_PATRON
    assert [result[k] for k in ("EmailAddress", "NameFirst", "NameLast", "NameMiddle")] == [None] * 4


async def test_signatures_as_clients_compute_them(app_client, listener, sample_tenant):
    key = await _key(app_client, sample_tenant)
    path = f"{PUBLIC}/patron/{SAMPLE_BARCODE}/circulationblocks"
    https = str(listener.make_url(path)).replace("http://", "https://")  # TLS ended at a proxy in front
    for options in ({}, {"url": https}, {"url": path}, {"header_date": "Date"}):
        assert (await _blocks(listener, key, sample_tenant, **options)).status == 200, options
    near = polaris_date(datetime.now(UTC) - timedelta(minutes=14))
    assert (await _blocks(listener, key, sample_tenant, date=near)).status == 200


@pytest.mark.parametrize(
    "tamper",
    [
        "other url",
        "other method",
        "other key",
        "unknown access id",
        "no domain",
        "other domain",
        "date too old",
        "date too new",
        "no date",
        "bad date",
        "patron password",
        "not PWS",
        "no header",
    ],
)
async def test_refused_signatures(app_client, listener, sample_tenant, tamper):
    key = await _key(app_client, sample_tenant)
    path = f"{PUBLIC}/patron/{SAMPLE_BARCODE}/circulationblocks"
    options: dict = {}
    if tamper == "other url":
        options["url"] = str(listener.make_url(f"{PUBLIC}/patron/21001000000011/circulationblocks"))
    elif tamper == "other key":
        key = {**key, "AccessKey": "x" + key["AccessKey"]}
    elif tamper == "unknown access id":
        options["access"] = f"nobody@{sample_tenant}"
    elif tamper == "no domain":
        options["access"] = key["AccessID"]
    elif tamper == "other domain":
        options["access"] = f"{key['AccessID']}@nosuchtenant"
    elif tamper == "date too old":
        options["date"] = polaris_date(datetime.now(UTC) - timedelta(minutes=16))
    elif tamper == "date too new":
        options["date"] = polaris_date(datetime.now(UTC) + timedelta(minutes=16))
    method = "POST" if tamper == "other method" else "GET"
    headers = _signed(listener, key, sample_tenant, method, path, **options)
    if tamper == "no date":
        del headers["PolarisDate"]
    elif tamper == "bad date":
        headers["PolarisDate"] = "yesterday"
    elif tamper == "patron password":  # PAPI's patron-password signature: no patron passwords are kept here
        headers = _signed(listener, key, sample_tenant, "GET", path, secret="1234")
    elif tamper == "not PWS":
        headers["Authorization"] = headers["Authorization"].replace("PWS", "PAS")
    elif tamper == "no header":
        del headers["Authorization"]
    body = await _refused(await listener.get(path, headers=headers))
    assert key["AccessKey"] not in body["ErrorMessage"]


async def test_a_disabled_or_deleted_key_signs_nothing(app_client, listener, sample_tenant):
    key = await _key(app_client, sample_tenant)
    assert (await _blocks(listener, key, sample_tenant)).status == 200
    record = {k: v for k, v in key.items() if k not in ("metadata", "AccessKey")}
    h = admin_headers(sample_tenant)
    assert (
        await app_client.put(f"/polaris/papi-keys/{key['id']}", json={**record, "Enabled": False}, headers=h)
    ).status == 204
    await _refused(await _blocks(listener, key, sample_tenant))
    record = await (await app_client.get(f"/polaris/papi-keys/{key['id']}", headers=h)).json()
    rotated = {**record, "Enabled": True, "AccessKey": "a-brand-new-key-of-some-length"}
    assert (await app_client.put(f"/polaris/papi-keys/{key['id']}", json=rotated, headers=h)).status == 204
    await _refused(await _blocks(listener, key, sample_tenant))
    assert (await _blocks(listener, {**key, "AccessKey": rotated["AccessKey"]}, sample_tenant)).status == 200
    assert (await app_client.delete(f"/polaris/papi-keys/{key['id']}", headers=h)).status == 204
    await _refused(await _blocks(listener, {**key, "AccessKey": rotated["AccessKey"]}, sample_tenant))


async def _staff_token(listener, key, tenant, user, password) -> dict:
    """DCB's PAPI staff authentication (PAPIAuthFilter.staffAuthenticator): signed without a secret."""
    path = f"{PROTECTED}/authenticator/staff"
    headers = _signed(listener, key, tenant, "POST", path)
    body = {"Domain": user["UserDomain"], "Username": user["UserName"], "Password": password}
    resp = await listener.post(path, json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_dcbs_staff_override(app_client, listener, sample_tenant):
    key = await _key(app_client, sample_tenant)
    user, password = await new_staff_user(app_client, sample_tenant)
    token = await _staff_token(listener, key, sample_tenant, user, password)
    assert (token["PAPIErrorCode"], token["PolarisUserID"], token["BranchID"]) == (0, user["PolarisUserID"], 3)
    # PAPIClient.getPatronCirculationBlocks: X-PAPI-AccessToken, the signature ending with the AccessSecret
    path = f"{PUBLIC}/patron/{SAMPLE_BARCODE}/circulationblocks"
    signed = _signed(listener, key, sample_tenant, "GET", path, secret=token["AccessSecret"])
    resp = await listener.get(path, headers={**signed, "X-PAPI-AccessToken": token["AccessToken"]})
    assert resp.status == 200 and (await resp.json())["CanPatronCirculate"] is False
    # without the secret, or with a token nobody was given, it is refused
    unsigned = _signed(listener, key, sample_tenant, "GET", path)
    await _refused(await listener.get(path, headers={**unsigned, "X-PAPI-AccessToken": token["AccessToken"]}))
    await _refused(await listener.get(path, headers={**signed, "X-PAPI-AccessToken": "x" + token["AccessToken"]}))
    # the token is the staff user's: disabling the user ends it
    record = {k: v for k, v in user.items() if k != "metadata"}
    resp = await app_client.put(
        f"/polaris/staff-users/{user['id']}", json={**record, "Enabled": False}, headers=admin_headers(sample_tenant)
    )
    assert resp.status == 204
    await _refused(await listener.get(path, headers={**signed, "X-PAPI-AccessToken": token["AccessToken"]}))


async def test_papi_staff_login_refusals(app_client, listener, sample_tenant, fresh_tenant):
    key = await _key(app_client, sample_tenant)
    user, password = await new_staff_user(app_client, sample_tenant)
    path = f"{PROTECTED}/authenticator/staff"
    for domain, secret in (
        (user["UserDomain"], "wrong-" + password),
        (fresh_tenant, password),
        ("bad domain!", password),
    ):
        body = {"Domain": domain, "Username": user["UserName"], "Password": secret}
        await _refused(
            await listener.post(path, json=body, headers=_signed(listener, key, sample_tenant, "POST", path))
        )
    resp = await listener.post(path, json={"Domain": "x"}, headers=_signed(listener, key, sample_tenant, "POST", path))
    body = await resp.json()
    assert resp.status == 400 and body["PAPIErrorCode"] == -1


async def test_unknown_papi_urls_answer_papi_results(listener):
    resp = await listener.get(f"{PUBLIC}/patron/x/nothing")
    assert resp.status == 404 and (await resp.json())["PAPIErrorCode"] == -1


async def test_no_papi_secret_reaches_a_log_line(app_client, listener, sample_tenant):
    import logging

    from mod_users.logs import JsonFormatter

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
        key = await _key(app_client, sample_tenant)
        user, password = await new_staff_user(app_client, sample_tenant)
        token = await _staff_token(listener, key, sample_tenant, user, password)
        path = f"{PUBLIC}/patron/{SAMPLE_BARCODE}/circulationblocks"
        signed = _signed(listener, key, sample_tenant, "GET", path, secret=token["AccessSecret"])
        resp = await listener.get(path, headers={**signed, "X-PAPI-AccessToken": token["AccessToken"]})
        assert resp.status == 200
        forged = {**signed, "Authorization": signed["Authorization"][:-4] + "AAA="}
        await _refused(await listener.get(path, headers={**forged, "X-PAPI-AccessToken": token["AccessToken"]}))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logged = "\n".join(lines)
    assert '"message": "request"' in logged
    for secret in (key["AccessKey"], token["AccessToken"], token["AccessSecret"], password):
        assert secret not in logged
    assert signed["Authorization"].split(":")[-1] not in logged
