"""What can go wrong in storage, in terms the HTTP layer can map without knowing SQL."""

from __future__ import annotations

import asyncpg

# Inside a database call these can only mean the database went away or will not let us in: refused,
# reset, timed out, shut down, or (an operator's to fix, not a client's) the database is missing or the
# credentials were changed. All of them are "unavailable" (503), never a 500.
#
# InternalClientError is asyncpg's protocol losing track of a connection whose server died in the middle
# of an exchange ("cannot switch to state 12; another operation (2) is in progress", after a kill -9 of
# the postmaster or a pg_terminate_backend): the connection is dead, not our request wrong. The pool
# terminates such a connection rather than lend it again (storage/database.py).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InternalClientError,
)


class StorageError(Exception):
    """Base of every storage failure a caller may want to handle."""


class InvalidTenant(StorageError):
    """The tenant name is not a safe identifier; it never reaches SQL."""


class TenantNotInitialised(StorageError):
    """The tenant's schema does not exist: ``POST /_/tenant`` was never run for it."""

    def __init__(self, tenant: str) -> None:
        super().__init__(f"Tenant '{tenant}' is not initialised for mod-users; run POST /_/tenant first")
        self.tenant = tenant


class DuplicateRecord(StorageError):
    """An insert or update would break a primary key or unique index."""

    def __init__(self, message: str, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class UnstorableValue(StorageError):
    """PostgreSQL refuses a value (a number out of range, text it cannot encode): the input's fault."""


class VersionConflict(StorageError):
    """Optimistic locking: the ``_version`` sent is not the stored one."""


class DatabaseUnavailable(StorageError):
    """PostgreSQL cannot be reached or stopped answering; the request may be retried later."""
