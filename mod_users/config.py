"""Settings read once from the environment, under the names FOLIO modules use."""

from __future__ import annotations

import os
import re
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What makes a folder a contract folder (reference-data/ and sample-data/ sit beside them).
CONTRACT_PARTS = ("ramls", "schemas", "descriptors")
# Where a non-editable install puts the contract, under its prefix (pyproject's [tool.setuptools.data-files]).
INSTALLED_CONTRACT = Path("share") / "mod-users"


class ConfigError(ValueError):
    """A setting is malformed; the message names the variable."""


@dataclass(frozen=True)
class DatabaseSettings:
    """Where PostgreSQL is. ``host is None`` means: start the embedded cluster."""

    host: str | None = None
    port: int = 5432
    username: str = "folio_admin"
    password: str = ""
    database: str = "okapi_modules"
    max_pool_size: int = 10
    query_timeout_ms: int = 60_000
    # The longest a request waits for a free pooled connection before it answers 503.
    acquire_timeout_ms: int = 10_000
    # DB_SERVER_PEM, as RMB names it: the PEM certificate(s) that vouch for the server; when set, only
    # TLS 1.3 connections to a server with a valid certificate for DB_HOST are made.
    server_pem: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to start."""

    http_port: int = 8081
    http_host: str = "0.0.0.0"
    # Serving processes sharing the port (SO_REUSEPORT).
    workers: int = 1
    db: DatabaseSettings = field(default_factory=DatabaseSettings)
    # Embedded cluster: a persistent data folder (None: .mod-users in the working folder, see
    # storage.embedded.data_folder) and an optional fixed port.
    data_dir: Path | None = None
    embedded_pg_port: int | None = None
    contract_dir: Path = PROJECT_ROOT
    # Bodies above this size answer 413 before any parsing.
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    # Polaris-style API: the most associations one patron may have (both sides of a link count).
    polaris_max_associations: int = 20
    # Kafka (automated patron blocks' event consumer): nothing of Kafka starts without a host. ``env`` is
    # FOLIO's ENV, the first part of every topic name ({ENV}.{tenant}.circulation.ITEM_CHECKED_OUT).
    kafka_host: str | None = None
    kafka_port: int = 9092
    env: str = "folio"
    # Polaris clients' own listener (Polaris-style routes, PAS/PWS authentication); 0 turns it off.
    polaris_port: int = 8082
    # Polaris domains (a URL's siteDomain, a staff login's user domain, a PAPI AccessID's @domain) that name
    # another tenant than the one of their own name, lower-cased: {"polaris": "diku"}.
    polaris_domains: Mapping[str, str] = field(default_factory=dict)
    # How long a staff user's access token lives (Polaris' and PAPI's tokens live 24 hours).
    polaris_token_seconds: int = 86_400
    # A tenant job whose runner has given no sign of life for this long is ended as interrupted.
    tenant_job_lease_ms: int = 30_000

    @property
    def ramls_dir(self) -> Path:
        return self.contract_dir / "ramls"

    @property
    def schemas_dir(self) -> Path:
        return self.contract_dir / "schemas"


def installed_contract_dir() -> Path | None:
    """The contract folder an installed (non-editable) mod-users brought along, or None.

    The distribution's own file list says where its data files went (a venv, ``--user``, ``--prefix``);
    without one, the interpreter's data folder is where they would be."""
    try:
        files = metadata.distribution("mod-users").files or []
    except metadata.PackageNotFoundError:
        files = []
    marker = (INSTALLED_CONTRACT / "descriptors" / "ModuleDescriptor-template.json").as_posix()
    for file in files:
        if file.as_posix().endswith(marker):
            return Path(str(file.locate())).resolve().parent.parent
    fallback = Path(sysconfig.get_path("data")) / INSTALLED_CONTRACT
    return fallback if fallback.is_dir() else None


def _missing_parts(folder: Path) -> list[str]:
    return [part for part in CONTRACT_PARTS if not (folder / part).is_dir()]


def find_contract_dir(env: Mapping[str, str]) -> Path:
    """The folder holding ``ramls/``, ``schemas/``, ``descriptors/`` (and the data sets): the one
    ``MOD_USERS_CONTRACT_DIR`` names, else this source checkout, else the installed data folder.
    Raise ConfigError saying what was looked for where."""
    explicit = env.get("MOD_USERS_CONTRACT_DIR")
    if explicit:
        missing = _missing_parts(Path(explicit))
        if missing:
            raise ConfigError(f"MOD_USERS_CONTRACT_DIR={explicit} has no {', '.join(p + '/' for p in missing)}")
        return Path(explicit)
    if not _missing_parts(PROJECT_ROOT):
        return PROJECT_ROOT
    installed = installed_contract_dir()  # reads the installed file list: only when there is no checkout
    if installed is not None and not _missing_parts(installed):
        return installed
    wanted = ", ".join(p + "/" for p in CONTRACT_PARTS)
    raise ConfigError(
        f"no contract folder ({wanted}) found: MOD_USERS_CONTRACT_DIR is not set, the source checkout "
        f"{PROJECT_ROOT} has none, and neither has the installed data folder "
        f"{installed or Path(sysconfig.get_path('data')) / INSTALLED_CONTRACT}; set MOD_USERS_CONTRACT_DIR "
        f"or reinstall mod-users"
    )


def _int(env: Mapping[str, str], key: str, default: int, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{key} must be between {minimum} and {maximum}, got {value}")
    return value


def _domains(env: Mapping[str, str], key: str) -> dict[str, str]:
    """``domain=tenant,domain=tenant`` as a mapping (domains compared in lower case, as Windows domains and
    Polaris site domains are case-insensitive); ConfigError naming the entry that is malformed."""
    out: dict[str, str] = {}
    for entry in (env.get(key) or "").split(","):
        if not entry.strip():
            continue
        domain, sep, tenant = entry.partition("=")
        domain, tenant = domain.strip().lower(), tenant.strip()
        if not sep or not domain or not tenant or any(c in domain for c in ":@\\/ "):
            raise ConfigError(f"{key} must be domain=tenant pairs separated by commas, got {entry.strip()!r}")
        out[domain] = tenant
    return out


def _pem(env: Mapping[str, str], key: str) -> str | None:
    raw = env.get(key) or None
    if raw is not None and "-----BEGIN CERTIFICATE-----" not in raw:
        raise ConfigError(f"{key} must hold PEM certificates (-----BEGIN CERTIFICATE----- ...), not a file name")
    return raw


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default ``os.environ``); raise ConfigError naming a bad key."""
    env = os.environ if env is None else env
    host = env.get("DB_HOST") or None
    db = DatabaseSettings(
        host=host,
        port=_int(env, "DB_PORT", 5432, 1, 65535),
        username=env.get("DB_USERNAME") or "folio_admin",
        password=env.get("DB_PASSWORD") or "",
        database=env.get("DB_DATABASE") or "okapi_modules",
        max_pool_size=_int(env, "DB_MAXPOOLSIZE", 10, 1, 1000),
        query_timeout_ms=_int(env, "DB_QUERYTIMEOUT", 60_000, 1),
        acquire_timeout_ms=_int(env, "DB_ACQUIRETIMEOUT", 10_000, 1),
        server_pem=_pem(env, "DB_SERVER_PEM"),
    )
    embedded_port = env.get("MOD_USERS_PG_PORT")
    return Settings(
        http_port=_int(env, "HTTP_PORT", 8081, 0, 65535),
        http_host=env.get("HTTP_HOST") or "0.0.0.0",
        workers=_int(env, "WORKERS", 1, 1, 64),
        db=db,
        data_dir=Path(env["MOD_USERS_DATA_DIR"]) if env.get("MOD_USERS_DATA_DIR") else None,
        embedded_pg_port=_int(env, "MOD_USERS_PG_PORT", 0, 1, 65535) if embedded_port else None,
        contract_dir=find_contract_dir(env),
        max_body_bytes=_int(env, "MOD_USERS_MAX_BODY_BYTES", 1_048_576, 1024),
        log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        polaris_max_associations=_int(env, "MOD_USERS_POLARIS_MAX_ASSOCIATIONS", 20, 1, 10_000),
        kafka_host=env.get("KAFKA_HOST") or None,
        kafka_port=_int(env, "KAFKA_PORT", 9092, 1, 65535),
        env=_folio_env(env),
        polaris_port=_int(env, "POLARIS_PORT", 8082, 0, 65535),
        polaris_domains=_domains(env, "MOD_USERS_POLARIS_DOMAINS"),
        polaris_token_seconds=_int(env, "MOD_USERS_POLARIS_TOKEN_SECONDS", 86_400, 60, 31_536_000),
        tenant_job_lease_ms=_int(env, "MOD_USERS_TENANT_JOB_LEASE_MS", 30_000, 100),
    )


def _folio_env(env: Mapping[str, str]) -> str:
    """FOLIO's ENV: letters, digits, ``_`` and ``-`` only, since it becomes part of topic names."""
    value = env.get("ENV") or "folio"
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise ConfigError(f"ENV must be 1-64 letters, digits, '_' or '-', got {value!r}")
    return value
