"""The embedded PostgreSQL cluster: created once, reused, data kept across restarts."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import asyncpg
import pytest

from mod_users.storage.database import connect_kwargs, ensure_database
from mod_users.storage.embedded import (
    MOVED_DATA_ROOT,
    DataFolder,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    data_folder,
    free_port,
)


@pytest.fixture
def cluster_root():
    root = Path(tempfile.mkdtemp(prefix="mod-users-embedded-"))
    yield root
    EmbeddedPostgres(root).destroy()


async def _query(db, sql, *args):
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        if ";" in sql:
            return await con.execute(sql)
        return await con.fetchval(sql, *args)
    finally:
        await con.close()


def test_data_survives_a_restart(cluster_root):
    port = free_port()
    first = EmbeddedPostgres(cluster_root, port=port, durable=False)
    db = first.start()
    assert db.port == port and db.host == "127.0.0.1"
    asyncio.run(ensure_database(db))
    asyncio.run(_query(db, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"))
    first.stop()
    assert not (cluster_root / "pgdata" / "postmaster.pid").exists()

    second = EmbeddedPostgres(cluster_root, durable=False)
    db2 = second.start()
    try:
        assert db2.password == db.password
        assert asyncio.run(_query(db2, "SELECT v FROM kept")) == "still here"
    finally:
        second.stop()


def test_a_running_cluster_is_reused_and_left_to_its_starter(cluster_root):
    owner = EmbeddedPostgres(cluster_root, durable=False)
    db = owner.start()
    try:
        guest = EmbeddedPostgres(cluster_root)
        assert guest.start().port == db.port
        assert not guest.started_here
        guest.stop()  # not ours to stop
        asyncio.run(ensure_database(db))
        assert asyncio.run(_query(db, "SELECT 1")) == 1
    finally:
        owner.stop()


def test_a_cluster_left_by_a_process_that_died_is_adopted_and_stopped(cluster_root):
    import subprocess
    import sys

    # The starter is a process that starts the cluster and is killed without stopping it (kill -9).
    starter = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys; from pathlib import Path; from mod_users.storage.embedded import EmbeddedPostgres; "
                f"EmbeddedPostgres(Path({str(cluster_root)!r}), durable=False).start(); "
                "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
            ),
        ],
        cwd=Path(__file__).parent.parent,
    )
    assert starter.returncode == -9
    assert (cluster_root / "pgdata" / "postmaster.pid").exists(), "the dead starter's server is running"
    heir = EmbeddedPostgres(cluster_root, durable=False)
    try:
        db = heir.start()
        assert heir.started_here  # adopted: it will be stopped with this process's shutdown
        asyncio.run(ensure_database(db))
        assert asyncio.run(_query(db, "SELECT 1")) == 1
    finally:
        heir.stop()
    assert not (cluster_root / "pgdata" / "postmaster.pid").exists()


def test_the_password_file_is_private(cluster_root):
    cluster = EmbeddedPostgres(cluster_root, durable=False)
    cluster.start()
    try:
        assert (cluster_root / "password").stat().st_mode & 0o777 == 0o600
    finally:
        cluster.stop()


def test_wrong_password_is_refused(cluster_root):
    cluster = EmbeddedPostgres(cluster_root, durable=False)
    db = cluster.start()
    try:
        kwargs = connect_kwargs(db, database="postgres")
        kwargs["password"] = "guess"
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(asyncpg.connect(**kwargs))
    finally:
        cluster.stop()


def test_the_data_folder_is_the_configured_one_else_mod_users_in_the_working_folder(cluster_root, monkeypatch):
    assert data_folder(cluster_root / "mine") == DataFolder(cluster_root / "mine")
    cluster_root.chmod(0o755)  # enterable by anyone, as a checkout usually is
    monkeypatch.chdir(cluster_root)
    assert data_folder(None) == DataFolder(cluster_root / ".mod-users")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has to step around folders the postgres user cannot enter")
def test_as_root_an_unreachable_default_folder_moves_and_says_so(tmp_path, monkeypatch):
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    os.chmod(hidden, 0o700)
    monkeypatch.chdir(hidden)
    chosen = data_folder(None)
    assert chosen.path.parent == MOVED_DATA_ROOT and chosen.moved_from == hidden / ".mod-users"
    assert chosen == data_folder(None)  # stable across runs
    assert "cannot enter" in chosen.describe() and str(hidden) in chosen.describe()
    # A folder chosen explicitly is used as it is, and refused at start if the postgres user cannot enter it.
    assert data_folder(hidden / "data") == DataFolder(hidden / "data")
    with pytest.raises(EmbeddedPostgresError, match="cannot enter"):
        EmbeddedPostgres(hidden / "data").start()


def test_remove_refuses_a_cluster_in_use_and_removes_a_stopped_one(cluster_root):
    cluster = EmbeddedPostgres(cluster_root, durable=False)
    cluster.start()
    try:
        with pytest.raises(EmbeddedPostgresError, match=f"in use by mod-users process {os.getpid()}"):
            EmbeddedPostgres(cluster_root).remove()
    finally:
        cluster.stop()
    EmbeddedPostgres(cluster_root).remove()
    assert not cluster_root.exists()


def test_the_last_user_stops_the_server_whoever_started_it(cluster_root):
    starter = EmbeddedPostgres(cluster_root, durable=False)
    db = starter.start()
    guest = EmbeddedPostgres(cluster_root)
    assert guest.start().port == db.port
    assert EmbeddedPostgres(cluster_root).users() == [os.getpid()]
    asyncio.run(ensure_database(db))
    starter.stop()  # the guest still uses it
    assert asyncio.run(_query(db, "SELECT 1")) == 1
    guest.stop()
    assert EmbeddedPostgres(cluster_root).postmaster() is None
    assert not (cluster_root / "pgdata" / "postmaster.pid").exists()


def test_remove_refuses_a_server_started_by_hand(cluster_root):
    cluster = EmbeddedPostgres(cluster_root, durable=False)
    cluster.start()
    cluster.owner_file.unlink()  # as if someone had run pg_ctl start on the folder
    cluster._leave()
    try:
        with pytest.raises(EmbeddedPostgresError, match="started by a process mod-users did not start"):
            EmbeddedPostgres(cluster_root).remove()
        assert (cluster_root / "pgdata" / "PG_VERSION").exists()
    finally:
        cluster._run("pg_ctl", "stop", "-D", str(cluster.pgdata), "-m", "fast", "-w")


def test_missing_binaries_are_reported(cluster_root, monkeypatch):
    cluster = EmbeddedPostgres(cluster_root, bin_dir=cluster_root / "nowhere")
    with pytest.raises((EmbeddedPostgresError, FileNotFoundError)):
        cluster.start()
