"""DCB's session, replayed as DCB sends it (tests/polaris/dcb.py): on the Polaris listener with a staff login
before every call, and on the FOLIO port as a gateway delivers the same calls. A virtual patron carrying the
blocks DCB clears (verify patron data, registration expired) is cleared and read back; one with a block DCB
does not mean keeps it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.polaris.dcb import AUTH_TOKEN, PATRON_DATA, Dcb, DcbConfig, PolarisFailed, UnexpectedBlocks, conforms
from tests.polaris.staff import new_staff_user
from tests.polaris.support import USER, headers, new_patron, stored_patron, token, url

RECORDED = Path(__file__).parent / "data" / "dcb"
PAST = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="seconds")
FUTURE = (datetime.now(UTC) + timedelta(days=365)).isoformat(timespec="seconds")
# What a gateway grants DCB's FOLIO user: the FOLIO permissions standing for DCB's Polaris ones.
DCB_FOLIO_PERMISSIONS = [
    "polaris.patron-status.blocks.view",
    "polaris.patron-status.blocks.manage",
    "polaris.patron-status.view",
    "polaris.patron-registration.view",
]


async def _virtual_patron(client, tenant, system_blocks: int, addr_check: str, expiration: str) -> dict:
    """A patron as DCB registers its virtual patrons (NameFirst the home barcode, a prefixed barcode)."""
    home = uuid.uuid4().hex[:10]
    patron_id = await new_patron(
        client,
        tenant,
        Barcode=f"dcb-{home}",
        PatronCodeID=3,
        SystemBlocks=system_blocks,
        Registration={
            "NameFirst": home,
            "NameLast": f"{home}@agency",
            "Birthdate": "1999-11-01T00:00:00+00:00",
            "AddrCheckDate": addr_check,
            "ExpirationDate": expiration,
        },
    )
    return await stored_patron(client, tenant, patron_id)


def _site_session(client, staff: dict, password: str, site: str) -> Dcb:
    config = DcbConfig(
        domain_id=staff["UserDomain"], staff_username=staff["UserName"], staff_password=password, site_domain=site
    )
    return Dcb(client, config)


def _gateway_session(client, tenant: str) -> Dcb:
    gateway = {
        "X-Okapi-Tenant": tenant,
        "X-Okapi-Token": token("dcb", USER),
        "X-Okapi-User-Id": USER,
        "X-Okapi-Permissions": json.dumps(DCB_FOLIO_PERMISSIONS),
        "X-Okapi-Request-Id": "493021/mod-users",
        "X-Okapi-Url": "http://okapi:9130",
    }
    return Dcb(client, DcbConfig(), gateway=gateway)


async def _replay(dcb: Dcb, app_client, tenant: str) -> None:
    """The calls DCB makes for a virtual patron: find it and clear its blocks (handlePatronBlock), read it
    (getVirtualPatronAndCheckExpiry), look it up by barcode (getPatronByUsername), read its barcode
    (getPatronBarcode), and the defaults a new virtual patron would get (patrondefaults)."""
    patron = await _virtual_patron(app_client, tenant, 64, PAST, PAST)
    patron_id = patron["PatronID"]
    before = await dcb.get_patron_blocks(patron_id)
    assert [(r["BlockType"], r["BlockID"]) for r in before] == [(3, 64), (3, 0), (100, 0)]

    assert await dcb.handle_patron_block(patron_id) == patron_id
    assert await dcb.get_patron_blocks(patron_id) == []

    read = await dcb.get_patron(patron_id)
    assert (read["PatronID"], read["Barcode"], read["PatronCodeID"], read["OrganizationID"]) == (
        patron_id,
        patron["Barcode"],
        3,
        3,
    )
    assert read["SystemBlocks"] == 0  # DCB: isBlocked = SystemBlocks > 0
    assert read["Registration"]["NameFirst"] == patron["Registration"]["NameFirst"]
    # clearing changed nothing else: the registration keeps its dates
    assert read["Registration"]["ExpirationDate"] == PAST and read["Registration"]["AddrCheckDate"] == PAST

    assert (await dcb.get_patron_by_username(patron["Barcode"]))["PatronID"] == patron_id
    assert (await dcb.get_patron_by_username(patron["Barcode"].upper()))["PatronID"] == patron_id
    assert await dcb.get_patron_barcode(patron_id) == patron["Barcode"]
    assert await dcb.patrondefaults(3) == {
        "City": "Riverside",
        "State": "CA",
        "PostalCode": "92501",
        "County": None,
        "CountryID": 1,
    }
    assert (await dcb.patrondefaults(6))["City"] == "Hillview"


async def test_dcb_session_on_the_polaris_listener(app_client, listener, sample_tenant):
    staff, password = await new_staff_user(app_client, sample_tenant)
    dcb = _site_session(listener, staff, password, sample_tenant)
    await _replay(dcb, app_client, sample_tenant)
    # DCB logs in before every call: each call follows a login of its own and uses that login's token
    calls = [entry for entry in dcb.transcript if not entry[1].endswith("/authentication/staffuser")]
    logins = [entry for entry in dcb.transcript if entry[1].endswith("/authentication/staffuser")]
    assert len(calls) == len(logins) == len({t["AccessToken"] for t in dcb.tokens}) >= 11
    assert dcb.transcript[::2] == logins and all(status == 200 for _, _, status in logins)
    assert all(token["PolarisUser"]["PolarisUserID"] == staff["PolarisUserID"] for token in dcb.tokens)


async def test_dcb_session_on_the_folio_port_as_a_gateway_delivers_it(app_client, sample_tenant):
    dcb = _gateway_session(app_client, sample_tenant)
    await _replay(dcb, app_client, sample_tenant)
    assert dcb.tokens == [] and all(not path.endswith("/staffuser") for _, path, _ in dcb.transcript)


@pytest.mark.parametrize("port", ["polaris", "folio"])
async def test_blocks_dcb_does_not_mean_stay(app_client, listener, sample_tenant, port):
    if port == "polaris":
        staff, password = await new_staff_user(app_client, sample_tenant)
        dcb = _site_session(listener, staff, password, sample_tenant)
    else:
        dcb = _gateway_session(app_client, sample_tenant)
    patron = await _virtual_patron(app_client, sample_tenant, 128 + 1024, FUTURE, FUTURE)
    patron_id = patron["PatronID"]
    placed = await app_client.post(
        url(f"/patrons/{patron_id}/blocks"), json={"BlockType": 2, "BlockID": 2}, headers=headers(sample_tenant)
    )
    assert placed.status == 200, await placed.text()

    with pytest.raises(UnexpectedBlocks) as raised:
        await dcb.handle_patron_block(patron_id)
    # the verify block went; the library-defined block and the collection agency block stayed
    assert [(r["BlockType"], r["BlockID"]) for r in raised.value.remaining] == [(2, 2), (4, 1024)]
    assert (await stored_patron(app_client, sample_tenant, patron_id))["SystemBlocks"] == 1024
    # a DCB-shaped delete of what it does not mean is refused and clears nothing
    for block_type, block_id, status in ((3, 1024, 400), (4, 1024, 400), (100, 1024, 404), (100, 0, 404)):
        with pytest.raises(PolarisFailed) as failed:
            await dcb.delete_patron_block(patron_id, block_type, block_id)
        assert failed.value.status == status
    assert [(r["BlockType"], r["BlockID"]) for r in await dcb.get_patron_blocks(patron_id)] == [(2, 2), (4, 1024)]


def test_the_session_emulation_reads_dcbs_recorded_answers():
    # the recorded Polaris answers pass the checks this module's answers must pass: the emulation is DCB's
    recorded_patron = json.loads((RECORDED / "get-patron-by-local-id.json").read_text())
    recorded_login = json.loads((RECORDED / "auth-response.json").read_text())
    assert conforms(recorded_patron, PATRON_DATA) == []
    assert conforms(recorded_login, AUTH_TOKEN) == []
    # and they fail where a Java field's type is not met
    assert conforms({**recorded_patron, "CreatorID": "2205005b-ca51-4a04-87fd-938eefa8f6de"}, PATRON_DATA)
    assert conforms({**recorded_patron, "Registration": {"NameTitle": "Mr"}}, PATRON_DATA)
    assert conforms({**recorded_patron, "ChargesAmount": None}, PATRON_DATA)


async def test_answers_carry_every_field_dcbs_recorded_answers_have(app_client, listener, sample_tenant):
    staff, password = await new_staff_user(app_client, sample_tenant)
    dcb = _site_session(listener, staff, password, sample_tenant)
    recorded_patron = json.loads((RECORDED / "get-patron-by-local-id.json").read_text())
    recorded_login = json.loads((RECORDED / "auth-response.json").read_text())
    ours = await dcb.get_patron(1002)
    read_by_dcb = set(PATRON_DATA) & set(recorded_patron)
    assert read_by_dcb <= set(ours)
    assert set(AUTH_TOKEN) <= set(dcb.tokens[0]) and set(AUTH_TOKEN) <= set(recorded_login)
    polaris_user = set(dcb.tokens[0]["PolarisUser"])
    assert {"PolarisUserID", "OrganizationID", "Name", "BranchID", "Enabled"} <= polaris_user
