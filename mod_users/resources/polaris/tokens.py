"""Staff access tokens: issued at login, presented as ``PAS siteDomain:AccessToken:AccessSecret``.

A token is a row in the tenant's schema, so every instance of the module sees every token. The row id is
derived from the AccessToken (a primary-key read per call) and the row keeps only a SHA-256 digest of the
AccessSecret: both are long random strings, so a fast digest is as safe as a slow one here, and a copy of the
database holds nothing a client could present. Tokens die when they expire, and all of a user's tokens when
the user is disabled, deleted, renamed or given a new password (:func:`revoke_all`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mod_users import cql
from mod_users.resources.polaris.ids import NAMESPACE
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_STAFF_TOKENS
from mod_users.storage.tenants import TenantSchema

# Polaris' own tokens are 32 and 16 letters and digits; ours are 32 each (190 bits of chance apiece).
_ALPHABET = string.ascii_letters + string.digits
_LENGTH = 32


def random_text(length: int = _LENGTH) -> str:
    """Letters and digits from the operating system's cryptographic random source."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def stamp(moment: datetime) -> str:
    """A UTC time as tokens keep it: fixed width, so that text order is time order (the purge's index)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _row_id(token: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "staff-token:" + token))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Issued:
    """A new token: what the client gets once, and when it stops working."""

    token: str
    secret: str
    expires: datetime


async def issue(store: RecordStore, ts: TenantSchema, staff_user_id: str, lifetime_seconds: int) -> Issued:
    """A new token for the staff user (its record id); a user may hold many at once."""
    now = datetime.now(UTC)
    issued = Issued(random_text(), random_text(), now + timedelta(seconds=lifetime_seconds))
    row = {
        "id": _row_id(issued.token),
        "StaffUserID": staff_user_id,
        "SecretDigest": _digest(issued.secret),
        "IssuedAt": stamp(now),
        "ExpiresAt": stamp(issued.expires),
    }
    await store.insert(ts, POLARIS_STAFF_TOKENS, row, None)
    return issued


async def holder(store: RecordStore, ts: TenantSchema, token: str, secret: str) -> str | None:
    """The record id of the staff user a live token with this secret belongs to, else None (unknown token,
    wrong secret, expired)."""
    row: dict[str, Any] | None = await store.get(ts, POLARIS_STAFF_TOKENS, _row_id(token))
    if row is None or "SecretDigest" not in row or not hmac.compare_digest(row["SecretDigest"], _digest(secret)):
        return None
    if row["ExpiresAt"] <= stamp(datetime.now(UTC)):
        return None
    return str(row["StaffUserID"])


# -- PAPI's staff tokens ------------------------------------------------------------------------------------
# A PAPI call signs with its AccessSecret (HMAC), so the server must be able to compute the secret, not only to
# recognise it: it is derived from the token with the PAPI access key it was issued under, which the server
# holds anyway, and nothing of it is stored.
def papi_secret(access_key: str, token: str) -> str:
    """The AccessSecret of a PAPI staff token issued under ``access_key``."""
    return hmac.new(access_key.encode("utf-8"), b"papi-staff:" + token.encode(), hashlib.sha256).hexdigest()[:_LENGTH]


async def issue_papi(
    store: RecordStore, ts: TenantSchema, staff_user_id: str, access_id: str, lifetime_seconds: int
) -> tuple[str, datetime]:
    """A new PAPI staff token (its secret: :func:`papi_secret`) and when it expires."""
    now = datetime.now(UTC)
    token, expires = random_text(), now + timedelta(seconds=lifetime_seconds)
    row = {
        "id": _row_id(token),
        "StaffUserID": staff_user_id,
        "AccessID": access_id.casefold(),
        "IssuedAt": stamp(now),
        "ExpiresAt": stamp(expires),
    }
    await store.insert(ts, POLARIS_STAFF_TOKENS, row, None)
    return token, expires


async def papi_holder(store: RecordStore, ts: TenantSchema, token: str, access_id: str) -> str | None:
    """The record id of the staff user a live PAPI token issued under ``access_id`` belongs to, else None."""
    row: dict[str, Any] | None = await store.get(ts, POLARIS_STAFF_TOKENS, _row_id(token))
    if row is None or row.get("AccessID") != access_id.casefold():
        return None
    if row["ExpiresAt"] <= stamp(datetime.now(UTC)):
        return None
    return str(row["StaffUserID"])


async def revoke_all(store: RecordStore, ts: TenantSchema, staff_user_id: str) -> int:
    """End every token of the staff user; how many there were."""
    return await store.delete_matching(ts, POLARIS_STAFF_TOKENS, f"StaffUserID=={cql.quote(staff_user_id)}")


async def purge_expired(store: RecordStore, ts: TenantSchema) -> int:
    """Delete the tokens that have expired (they answer nothing any more); how many went."""
    now = stamp(datetime.now(UTC))
    return await store.delete_matching(ts, POLARIS_STAFF_TOKENS, f"ExpiresAt<{cql.quote(now)}")


__all__ = [
    "Issued",
    "holder",
    "issue",
    "issue_papi",
    "papi_holder",
    "papi_secret",
    "purge_expired",
    "random_text",
    "revoke_all",
    "stamp",
]
