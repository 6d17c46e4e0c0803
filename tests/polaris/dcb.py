"""DCB's Polaris client, call for call, for tests to replay its session against this module.

Written from the Open Library Foundation's DCB service (``openlibraryenvironment/dcb-service``,
``dcb/src/main/java/org/olf/dcb/core/interaction/polaris/``): ``ApplicationServicesAuthFilter`` (a staff login,
``POST …/authentication/staffuser`` with ``Basic base64(domain\\user:password)``, an empty body and
``Accept: application/json``, before *every* call; then ``Authorization: PAS site:token:secret``),
``ApplicationServicesClient`` (the URLs ``/polaris.applicationservices/api/{version}/{language}/{product}/
{site}/{organisation}/{workstation}/…``, the query parameters, and how each answer is read: the blocks summary
as a list of ``PatronBlockGetRow``, a delete as a JSON boolean, an id as the body's text, a barcode as the body
with its quotes stripped, ``PatronData``, ``PatronDefaults``), ``PolarisConstants`` (the block types it
clears: 3 and 100) and ``PolarisConfig`` (the defaults: v1, eng, 19, site domain polaris, workstation 1).

What DCB's Java classes would refuse, :func:`conforms` refuses: an Integer field that is not a JSON integer,
a String that is not a string, a LocalDateTime that is not an ISO 8601 date-time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.polaris.staff import basic

# DCB's models, field by field, as the JSON types its deserialiser accepts (every field may be null, except
# the primitive doubles). Nested models are dicts; a list of a model is a one-element list.
INTEGER, STRING, BOOLEAN, DOUBLE, NUMBER, DATE_TIME = (
    "Integer",
    "String",
    "Boolean",
    "double",
    "Double",
    "LocalDateTime",
)
PATRON_BLOCK_GET_ROW = {
    "PatronID": INTEGER,
    "PatronFullName": STRING,
    "BlockType": INTEGER,
    "BlockID": INTEGER,
    "BlockDescription": STRING,
    "PatronBranchID": INTEGER,
    "CreationDate": STRING,
}
PATRON_ADDRESS = {
    "PatronID": INTEGER,
    "AddressID": INTEGER,
    "AddressTypeID": INTEGER,
    "AddressTypeDescription": STRING,
    "AddressLabelID": INTEGER,
    "AddressLabelDescription": STRING,
    "Verified": BOOLEAN,
    "VerificationDate": DATE_TIME,
    "PolarisUserID": INTEGER,
    "StreetOne": STRING,
    "StreetTwo": STRING,
    "StreetThree": STRING,
    "MunicipalityName": STRING,
    "PostalCode": STRING,
    "ZipPlusFour": STRING,
    "City": STRING,
    "State": STRING,
    "CountryName": STRING,
    "CountryID": INTEGER,
    "County": STRING,
    "VerificationStatus": INTEGER,
}
PATRON_REGISTRATION = {
    "PatronID": INTEGER,
    "LanguageID": INTEGER,
    "NameFirst": STRING,
    "NameLast": STRING,
    "NameMiddle": STRING,
    "NameTitleID": INTEGER,
    "NameTitle": {"NameTitleID": INTEGER, "Description": STRING},
    "NameSuffix": STRING,
    "PhoneVoice1": STRING,
    "PhoneVoice2": STRING,
    "PhoneVoice3": STRING,
    "EmailAddress": STRING,
    "Password": STRING,
    "EntryDate": DATE_TIME,
    "ExpirationDate": DATE_TIME,
    "AddrCheckDate": DATE_TIME,
    "UpdateDate": DATE_TIME,
    "Addresses": [PATRON_ADDRESS],
}
PATRON_DATA = {
    "PatronID": INTEGER,
    "PatronCodeID": INTEGER,
    "PatronCode": {"PatronCodeID": INTEGER, "Description": STRING},
    "OrganizationID": INTEGER,
    "CreatorID": INTEGER,
    "ModifierID": INTEGER,
    "Barcode": STRING,
    "SystemBlocks": INTEGER,
    "YTDCircCount": INTEGER,
    "LifetimeCircCount": INTEGER,
    "LastActivityDate": DATE_TIME,
    "ClaimCount": INTEGER,
    "LostItemCount": INTEGER,
    "ChargesAmount": DOUBLE,
    "CreditsAmount": DOUBLE,
    "RecordStatusID": INTEGER,
    "RecordStatusDate": DATE_TIME,
    "YTDYouSavedAmount": NUMBER,
    "LifetimeYouSavedAmount": NUMBER,
    "Registration": PATRON_REGISTRATION,
}
PATRON_DEFAULTS = {"City": STRING, "PostalCode": STRING, "State": STRING}
POLARIS_USER = {
    "PolarisUserID": INTEGER,
    "OrganizationID": INTEGER,
    "Name": STRING,
    "BranchID": INTEGER,
    "Enabled": BOOLEAN,
    "CreatorID": INTEGER,
    "ModifierID": INTEGER,
    "CreationDate": STRING,
    "ModificationDate": STRING,
}
AUTH_TOKEN = {
    "SiteDomain": STRING,
    "UserDomain": STRING,
    "AccessToken": STRING,
    "AccessSecret": STRING,
    "AuthExpDate": STRING,
    "PolarisUser": POLARIS_USER,
    "ERMSNetworkAddress": STRING,
    "DataSource": STRING,
}
# PolarisConstants: the blocks DCB deletes from a (virtual) patron.
VERIFY_PATRON_DATA_BLOCK, REGISTRATION_HAS_EXPIRED_BLOCK = 3, 100


def _date_time(value: str) -> bool:
    # DCB reads the recorded answers' "2023-10-03T08:07:44.587-05:00" into LocalDateTime: ISO 8601, offset or not.
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value


def conforms(value: Any, model: Any, where: str = "$") -> list[str]:
    """What DCB's deserialiser would refuse in ``value`` read as ``model`` (empty: nothing)."""
    if isinstance(model, dict):
        if value is None:
            return []
        if not isinstance(value, dict):
            return [f"{where}: an object is expected, got {value!r}"]
        return [p for name, sub in model.items() for p in conforms(value.get(name), sub, f"{where}.{name}")]
    if isinstance(model, list):
        if value is None:
            return []
        if not isinstance(value, list):
            return [f"{where}: a list is expected, got {value!r}"]
        return [p for i, item in enumerate(value) for p in conforms(item, model[0], f"{where}[{i}]")]
    if value is None:
        return [f"{where}: a primitive double cannot be null"] if model == DOUBLE else []
    accepted = {
        INTEGER: isinstance(value, int) and not isinstance(value, bool),
        STRING: isinstance(value, str),
        BOOLEAN: isinstance(value, bool),
        DOUBLE: isinstance(value, int | float) and not isinstance(value, bool),
        NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
        DATE_TIME: isinstance(value, str) and _date_time(value),
    }[model]
    return [] if accepted else [f"{where}: {model} expected, got {value!r}"]


@dataclass
class DcbConfig:
    """The Host LMS configuration DCB reads (PolarisConfig), with its defaults."""

    domain_id: str = ""
    staff_username: str = ""
    staff_password: str = ""
    site_domain: str = "polaris"
    organisation_id: int = 3
    workstation_id: int = 1
    logon_branch_id: int = 3
    services_version: str = "v1"
    language: str = "eng"
    product_id: str = "19"


class UnexpectedBlocks(Exception):
    """DCB's "Patron has unexpected blocks" problem: blocks it does not clear remain."""

    def __init__(self, remaining: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(remaining)} blocks found")
        self.remaining = remaining


class PolarisFailed(Exception):
    """A call DCB would see fail (an HTTP error)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body[:300]}")
        self.status = status


@dataclass
class Dcb:
    """DCB's ApplicationServicesClient against ``http`` (an aiohttp test client). Without ``gateway`` it talks
    to the Polaris listener as DCB talks to Polaris (a login before every call); with ``gateway`` (the
    headers a FOLIO gateway adds) it makes the same calls as the gateway would deliver them."""

    http: Any
    config: DcbConfig
    gateway: dict[str, str] | None = None
    transcript: list[tuple[str, str, int]] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)

    def _path(self, *segments: object) -> str:
        c = self.config
        base = (
            f"/polaris.applicationservices/api/{c.services_version}/{c.language}/{c.product_id}/"
            f"{c.site_domain}/{c.organisation_id}/{c.workstation_id}"
        )
        return base + "/" + "/".join(str(s) for s in segments)

    async def _login(self) -> dict[str, Any]:
        c = self.config
        base = f"/polaris.applicationservices/api/{c.services_version}/{c.language}/{c.product_id}"
        path = base + "/authentication/staffuser"
        resp = await self.http.post(
            path,
            data=b"",
            headers={
                "Authorization": basic(c.domain_id, c.staff_username, c.staff_password),
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": "Micronaut HTTP Client",
            },
        )
        text = await resp.text()
        self.transcript.append(("POST", path, resp.status))
        if resp.status != 200:
            raise PolarisFailed(resp.status, text)
        token = json.loads(text)
        assert conforms(token, AUTH_TOKEN) == []
        self.tokens.append(token)
        return token

    async def _call(self, method: str, path: str, params: dict[str, Any] | None = None) -> str:
        if self.gateway is None:
            token = await self._login()
            authorization = f"PAS {self.config.site_domain}:{token['AccessToken']}:{token['AccessSecret']}"
            headers = {"Authorization": authorization, "Accept": "application/json"}
        else:
            headers = {**self.gateway, "Accept": "application/json"}
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items()}
        resp = await self.http.request(
            method, path, params=query, headers={**headers, "User-Agent": "Micronaut HTTP Client"}
        )
        text = await resp.text()
        self.transcript.append((method, path, resp.status))
        if resp.status >= 400:
            raise PolarisFailed(resp.status, text)
        return text

    # -- ApplicationServicesClient ----------------------------------------------------------------------------
    async def get_patron_blocks(self, patron_id: int) -> list[dict[str, Any]]:
        path = self._path("patrons", patron_id, "blockssummary")
        try:
            text = await self._call(
                "GET", path, {"logonBranchID": self.config.logon_branch_id, "associatedblocks": False}
            )
        except PolarisFailed as failed:
            if failed.status == 404:  # "Not found is not really an error WRT patron blocks"
                return []
            raise
        rows = json.loads(text)
        assert conforms(rows, [PATRON_BLOCK_GET_ROW]) == []
        return rows

    async def delete_patron_block(self, patron_id: int, block_type: int, block_id: int) -> bool:
        text = await self._call("DELETE", self._path("patrons", patron_id, "blocks", block_type, block_id))
        answer = json.loads(text)
        assert isinstance(answer, bool), text  # retrieve(request, Boolean)
        return answer

    async def handle_patron_block(self, patron_id: int) -> int:
        """handlePatronBlock -> deleteUnwantedPatronBlocks: delete every block of type 3 or 100; UnexpectedBlocks
        when others (or ones whose deletion failed) remain."""
        rows = await self.get_patron_blocks(patron_id)
        remaining = []
        for row in rows:
            if row["BlockType"] in (VERIFY_PATRON_DATA_BLOCK, REGISTRATION_HAS_EXPIRED_BLOCK):
                try:
                    await self.delete_patron_block(patron_id, row["BlockType"], row["BlockID"])
                    continue
                except PolarisFailed:
                    pass  # "Patron block deletion failed": the row stays
            remaining.append(row)
        if remaining:
            raise UnexpectedBlocks(remaining)
        return patron_id

    async def get_patron(self, patron_id: int | str) -> dict[str, Any]:
        data = json.loads(await self._call("GET", self._path("patrons", patron_id)))
        assert conforms(data, PATRON_DATA) == []
        return data

    async def get_patron_id_by_identifier(self, identifier: str, identifier_type: str = "barcode") -> str:
        # retrieve(request, String): the body's text, which getPatronByLocalId then parses as an Integer
        return await self._call("GET", self._path("ids", "patrons"), {"id": identifier, "type": identifier_type})

    async def get_patron_barcode(self, local_id: int | str) -> str:
        return (await self._call("GET", self._path("barcodes", "patrons", local_id))).replace('"', "")

    async def patrondefaults(self, ill_location: int) -> dict[str, Any]:
        defaults = json.loads(await self._call("GET", self._path("patrondefaults"), {"orgid": ill_location}))
        assert conforms(defaults, PATRON_DEFAULTS) == []
        return defaults

    # -- PolarisLmsClient -----------------------------------------------------------------------------------
    async def get_patron_by_username(self, barcode: str) -> dict[str, Any]:
        """getPatronByUsername: the barcode's PatronID, then the patron (getPatronByLocalId)."""
        local_id = await self.get_patron_id_by_identifier(barcode, "barcode")
        assert re.fullmatch(r"-?[0-9]+", local_id), local_id  # Integer.parseInt, or "patron not found"
        return await self.get_patron(int(local_id))
