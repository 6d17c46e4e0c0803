"""`mod-users serve` as a user runs it: embedded database, real HTTP, SIGTERM, restart, data kept."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mod_users.storage.embedded import EmbeddedPostgres, free_port


def _call(port, method, path, body=None, tenant="servetest", headers=None):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        method=method,
        headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _start(port, data_dir, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env["MOD_USERS_DATA_DIR"] = str(data_dir)
    env.setdefault("POLARIS_PORT", "0")  # no Polaris listener on the shared default port (tests/polaris test it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mod_users.cli", "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.stdout.read().decode()[-2000:]}")
        try:
            if _call(port, "GET", "/admin/health")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not become healthy")


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    return proc.stdout.read().decode()


@pytest.fixture
def data_dir():
    root = Path(tempfile.mkdtemp(prefix="mod-users-serve-"))
    yield root
    EmbeddedPostgres(root).destroy()


def test_serve_keeps_data_across_restarts_and_stops_its_database(data_dir):
    port = free_port()
    proc = _start(port, data_dir)
    try:
        status, _ = _call(
            port,
            "POST",
            "/_/tenant",
            b'{"module_to":"mod-users-0.1.0","parameters":[{"key":"loadReference","value":"true"}]}',
        )
        assert status == 201
        record = (
            b'{"id":"6f0ae1a4-54c5-4cf6-8ad2-8b2f49f2a9b1","name":"Survivor","blockBorrowing":false,'
            b'"blockRenewals":false,"blockRequests":false,"valueType":"Integer"}'
        )
        deadline = time.monotonic() + 30
        while _call(port, "GET", "/patron-block-conditions")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _call(port, "POST", "/patron-block-conditions", record)[0] == 201
    finally:
        log = _stop(proc)
    assert '"requestId"' in log  # structured log lines carry the request id
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "the embedded database was left running"

    proc = _start(port, data_dir)
    try:
        status, body = _call(port, "GET", "/patron-block-conditions/6f0ae1a4-54c5-4cf6-8ad2-8b2f49f2a9b1")
        assert status == 200 and "Survivor" in body
        status, body = _call(port, "GET", "/patron-block-conditions?limit=0")
        assert '"totalRecords": 7' in body
    finally:
        _stop(proc)


def test_sigterm_drains_in_flight_requests_then_stops_the_database(data_dir):
    import asyncio
    import threading
    import uuid

    import asyncpg

    from mod_users.storage.database import connect_kwargs
    from mod_users.storage.tenants import TenantSchema

    port = free_port()
    proc = _start(port, data_dir)
    try:
        assert _call(port, "POST", "/_/tenant", b'{"module_to":"mod-users-0.1.0"}', tenant="drain")[0] == 201
        # A job that never completes keeps a `?wait=` request in flight for its whole wait.
        guest = EmbeddedPostgres(data_dir)
        db = guest.start()  # the running cluster, reused; left at once so that serve remains its only user
        guest.stop()
        job = str(uuid.uuid4())

        async def stuck_job():
            con = await asyncpg.connect(**connect_kwargs(db))
            try:
                table = TenantSchema("drain").table("tenant_jobs")
                await con.execute(
                    f"INSERT INTO {table} (id, jsonb) VALUES ($1, $2::jsonb)",
                    uuid.UUID(job),
                    f'{{"id": "{job}", "complete": false}}',
                )
            finally:
                await con.close()

        asyncio.run(stuck_job())
        answer: dict = {}

        def slow_request():
            started = time.monotonic()
            answer["result"] = _call(port, "GET", f"/_/tenant/{job}?wait=3000", tenant="drain")
            answer["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.7)
        proc.send_signal(signal.SIGTERM)
        thread.join(timeout=30)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    status, body = answer["result"]
    assert status == 200 and '"complete": false' in body
    assert answer["seconds"] >= 2.5  # it was answered after its wait, not cut off by the shutdown
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


def _data(data_dir, *args):
    env = {**os.environ, "MOD_USERS_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "mod_users.cli", "data", *args], capture_output=True, text=True, env=env
    )


def test_two_serves_share_one_folder_and_clean_refuses_while_either_runs(data_dir):
    first_port, second_port = free_port(), free_port()
    first = _start(first_port, data_dir)
    second = None
    try:
        second = _start(second_port, data_dir)  # the same data folder: it shares the running cluster
        listed = _data(data_dir, "list").stdout
        assert f"in use by process {min(first.pid, second.pid)}, {max(first.pid, second.pid)}" in listed, listed
        refused = _data(data_dir, "clean")
        assert refused.returncode == 1 and f"is in use by mod-users process {first.pid}" in refused.stderr
        assert data_dir.exists()
        _stop(first)  # the first one out leaves the cluster running for the other
        assert _call(second_port, "GET", "/admin/health")[0] == 200
        refused = _data(data_dir, "clean")
        assert refused.returncode == 1 and f"in use by mod-users process {second.pid}" in refused.stderr
        second.kill()  # ends without stopping anything: its lock goes with it, its PostgreSQL stays
        second.wait(timeout=30)
        assert "PostgreSQL left running by a process that ended" in _data(data_dir, "list").stdout
        postmaster = EmbeddedPostgres(data_dir).postmaster()
        assert postmaster is not None
        cleaned = _data(data_dir, "clean")
        assert cleaned.returncode == 0 and cleaned.stdout.strip() == f"removed {data_dir}", cleaned.stderr
        assert not data_dir.exists()
        with pytest.raises(ProcessLookupError):
            for _ in range(100):  # the postmaster ends; pg_ctl stop -w returned once it had
                os.kill(postmaster, 0)
                time.sleep(0.1)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()


def _children(pid):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
            found.append(int(stat.parent.name))
    return found


def test_workers_share_the_port_and_stop_together(data_dir):
    port = free_port()
    proc = _start(port, data_dir, "--workers", "2")
    try:
        deadline = time.monotonic() + 30
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_children(proc.pid)) == 2
        for _ in range(20):
            assert _call(port, "GET", "/admin/health")[0] == 200
    finally:
        _stop(proc)
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


def test_serve_starts_before_its_configured_database_and_answers_503(tmp_path):
    # As an orchestrator may start it: DB_HOST names a server that is not up (yet). No crash loop. The working
    # folder is one the postgres user cannot enter (as root), which must not matter: no embedded cluster.
    port, db_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "MOD_USERS_DATA_DIR"))}
    env.update(
        DB_HOST="127.0.0.1", DB_PORT=str(db_port), PYTHONPATH=str(Path(__file__).parent.parent), POLARIS_PORT="0"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mod_users.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while health is None:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline, "serve never answered"
            try:
                health = _call(port, "GET", "/admin/health")
            except OSError:
                time.sleep(0.2)
        assert health[0] == 503
        assert _call(port, "GET", "/patron-block-conditions")[0] == 503
    finally:
        log = _stop(proc)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    unreachable = [line for line in lines if line["message"].startswith("database unreachable at start-up")]
    # Said by the module that connects to the database, not by the embedded cluster's (there is none here).
    assert [line["logger"] for line in unreachable] == ["mod_users.storage.database"], unreachable
    messages = [line["message"] for line in lines]
    assert not [m for m in messages if "embedded" in m.lower() or "data folder" in m]  # DB_HOST: no embedded cluster


def test_a_port_in_use_is_one_line_and_exit_1(data_dir):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
        env["MOD_USERS_DATA_DIR"] = str(data_dir)
        out = subprocess.run(
            [sys.executable, "-m", "mod_users.cli", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    assert out.stderr.splitlines() == [f"mod-users: cannot listen on 0.0.0.0:{port}: address already in use"]
    assert out.stdout == "" and not (data_dir / "pgdata").exists()  # nothing was started


def test_listening_is_logged_once_the_port_accepts_connections_and_names_the_data_folder(data_dir):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env["MOD_USERS_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mod_users.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(json.loads(line))
            if lines[-1]["message"] == "mod-users listening":
                # The line is written once the socket accepts: a connection made now succeeds.
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
        assert lines[-1]["address"] == f"0.0.0.0:{port}"
        folders = [line["dataDir"] for line in lines if line["message"] == "embedded PostgreSQL data folder"]
        assert folders == [str(data_dir)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
