"""DB_SERVER_PEM: TLS to PostgreSQL as RMB sets it up, against a private cluster serving a certificate made here.

The certificate authority and the server certificate (for localhost and 127.0.0.1) are made with openssl in
the test; the cluster requires nothing of the client, so each refusal below is the client's own.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from mod_users.config import ConfigError, load_settings
from mod_users.storage.database import connect_kwargs, create_pool, ensure_database
from mod_users.storage.embedded import EmbeddedPostgres


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "the TLS tests make their certificates with openssl (Debian: apt-get install openssl)"
    subprocess.run([openssl, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _authority(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)  # fmt: skip


def _server_certificate(folder: Path, authority: str) -> None:
    (folder / "san.cnf").write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=folder)  # fmt: skip
    _openssl("x509", "-req", "-in", "server.csr", "-CA", f"{authority}.pem", "-CAkey", f"{authority}.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.crt", cwd=folder)  # fmt: skip


@pytest.fixture(scope="module")
def tls_cluster():
    """A private cluster serving TLS with a certificate signed by the test's own authority; yields its
    connection settings and the folder holding ``ca.pem`` (the authority) and ``other.pem`` (a stranger)."""
    root = Path(tempfile.mkdtemp(prefix="mod-users-tls-"))
    certs = Path(tempfile.mkdtemp(prefix="mod-users-certs-"))
    _authority(certs, "ca")
    _authority(certs, "other")
    _server_certificate(certs, "ca")
    cluster = EmbeddedPostgres(root, durable=False)
    cluster.start()
    cluster.stop()
    for name, mode in (("server.crt", 0o644), ("server.key", 0o600)):
        target = cluster.pgdata / name
        shutil.copy(certs / name, target)
        target.chmod(mode)
        if os.geteuid() == 0:  # the server runs as the postgres OS user and must read its key
            entry = pwd.getpwnam("postgres")
            os.chown(target, entry.pw_uid, entry.pw_gid)
    with (cluster.pgdata / "postgresql.conf").open("a") as conf:
        conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    db = cluster.start()
    asyncio.run(ensure_database(db))
    try:
        yield db, certs
    finally:
        cluster.destroy()
        shutil.rmtree(certs, ignore_errors=True)


async def _ssl_in_use(db) -> tuple[bool, str]:
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        row = await con.fetchrow("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        return row["ssl"], row["version"]
    finally:
        await con.close()


def test_with_db_server_pem_the_connection_is_tls_1_3_to_the_certified_server(tls_cluster):
    db, certs = tls_cluster
    secured = replace(db, server_pem=(certs / "ca.pem").read_text())
    assert asyncio.run(_ssl_in_use(secured)) == (True, "TLSv1.3")

    async def through_the_pool():
        pool = await create_pool(secured)
        try:
            return await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        finally:
            await pool.close()

    assert asyncio.run(through_the_pool()) is True


@pytest.mark.parametrize("pem", [["server.crt"], ["server.crt", "ca.pem"]], ids=["the server's own", "the chain"])
def test_db_server_pem_may_be_the_servers_certificate_or_the_chain_as_in_rmb(tls_cluster, pem):
    db, certs = tls_cluster
    secured = replace(db, server_pem="".join((certs / name).read_text() for name in pem))
    assert asyncio.run(_ssl_in_use(secured)) == (True, "TLSv1.3")


def test_a_certificate_the_pem_does_not_vouch_for_is_refused(tls_cluster):
    db, certs = tls_cluster
    stranger = replace(db, server_pem=(certs / "other.pem").read_text())
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(_ssl_in_use(stranger))


def test_a_host_the_certificate_does_not_name_is_refused(tls_cluster):
    db, certs = tls_cluster
    # 127.0.0.2 reaches the same loopback server, but the certificate names localhost and 127.0.0.1 only.
    elsewhere = replace(db, host="127.0.0.2", server_pem=(certs / "ca.pem").read_text())
    with pytest.raises((ssl.SSLCertVerificationError, OSError)):
        asyncio.run(_ssl_in_use(elsewhere))


def test_a_server_without_tls_is_refused_not_used_in_plain_text(db_settings, tls_cluster):
    _, certs = tls_cluster
    plain = replace(db_settings, server_pem=(certs / "ca.pem").read_text())
    if db_settings.host not in ("127.0.0.1", "localhost"):
        pytest.skip("the session's own cluster is the plain one; DB_HOST points elsewhere")
    with pytest.raises(ConnectionError):
        asyncio.run(_ssl_in_use(plain))


def test_db_server_pem_is_read_from_the_environment_and_must_be_pem(tls_cluster):
    _, certs = tls_cluster
    pem = (certs / "ca.pem").read_text()
    assert load_settings({"DB_HOST": "db", "DB_SERVER_PEM": pem}).db.server_pem == pem
    assert load_settings({"DB_HOST": "db"}).db.server_pem is None
    with pytest.raises(ConfigError, match="DB_SERVER_PEM"):
        load_settings({"DB_HOST": "db", "DB_SERVER_PEM": "/etc/ssl/ca.pem"})
