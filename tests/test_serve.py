"""`mod-users serve` as a user runs it: embedded database, real HTTP, SIGTERM, restart, data kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mod_users.storage.embedded import EmbeddedPostgres, free_port


def _call(port, method, path, body=None, tenant="servetest"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers={"X-Okapi-Tenant": tenant, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _start(port, data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env["MOD_USERS_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen([sys.executable, "-m", "mod_users.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
        status, _ = _call(port, "POST", "/_/tenant",
                          b'{"module_to":"mod-users-0.1.0","parameters":[{"key":"loadReference","value":"true"}]}')
        assert status == 201
        record = b'{"id":"6f0ae1a4-54c5-4cf6-8ad2-8b2f49f2a9b1","name":"Survivor","blockBorrowing":false,' \
                 b'"blockRenewals":false,"blockRequests":false,"valueType":"Integer"}'
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
