"""Tenant names and the schema each tenant's data lives in: ``<tenant>_mod_users``.

This is the only place where a name from a request becomes part of an SQL identifier, so the rule is
strict: lowercase letters, digits and underscores, starting with a letter, at most 31 characters (the
limit Okapi gives tenant ids), and never PostgreSQL's reserved ``pg_`` prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mod_users.storage.errors import InvalidTenant

MODULE_SCHEMA_SUFFIX = "_mod_users"
_TENANT = re.compile(r"[a-z][a-z0-9_]{0,30}")
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain lowercase SQL identifier that needs no quoting; else raise."""
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


@dataclass(frozen=True)
class TenantSchema:
    """A validated tenant and the names of its schema and tables."""

    tenant: str

    def __post_init__(self) -> None:
        if not isinstance(self.tenant, str) or not _TENANT.fullmatch(self.tenant) or self.tenant.startswith("pg_"):
            shown = self.tenant if isinstance(self.tenant, str) and len(self.tenant) <= 64 else "(too long)"
            raise InvalidTenant(
                f"Invalid tenant name {shown!r}: use 1 to 31 lowercase letters, digits or underscores, "
                "starting with a letter"
            )

    @property
    def schema(self) -> str:
        return self.tenant + MODULE_SCHEMA_SUFFIX

    def table(self, name: str) -> str:
        """The schema-qualified name of one of this tenant's tables, safe to put into SQL text."""
        return f"{self.schema}.{check_identifier(name)}"


# Advisory-lock namespace of tenant schema changes (init, upgrade, purge, job table creation).
_LOCK_NAMESPACE = 0x6D75


async def lock_tenant(con: Any, ts: TenantSchema) -> None:
    """Take the tenant's schema lock until the end of the current transaction: two inits, or an init
    and a purge, never interleave; and since every request transaction holds the same lock in shared
    mode (:func:`share_tenant`) before it touches a table, a purge or upgrade that holds it exclusively
    has no request transaction left to deadlock with."""
    await con.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_NAMESPACE, ts.schema)


async def share_tenant(con: Any, ts: TenantSchema) -> None:
    """Take the tenant's schema lock in shared mode until the end of the current transaction, before the
    transaction touches any table: it then waits for a purge or upgrade in progress, and one that starts
    waits for it, instead of the two taking table locks in orders that can cross."""
    await con.execute("SELECT pg_advisory_xact_lock_shared($1, hashtext($2))", _LOCK_NAMESPACE, ts.schema)
