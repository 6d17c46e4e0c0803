"""`mod-users serve` with Polaris clients' listener: two ports, one database, both answering as they should,
both stopping on SIGTERM."""

from __future__ import annotations

import base64
import json
import time

from mod_users.storage.embedded import free_port
from tests.test_serve import _call, _start, _stop, data_dir  # noqa: F401  (data_dir: the fixture)


def _request(port, method, path, headers, body=None):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_serve_runs_the_polaris_listener_beside_the_folio_port(data_dir):  # noqa: F811
    port, polaris_port = free_port(), free_port()
    proc = _start(port, data_dir, "--workers", "2", "--polaris-port", str(polaris_port))
    try:
        init = b'{"module_to":"mod-users-0.1.0","parameters":[{"key":"loadSample","value":"true"}]}'
        assert _call(port, "POST", "/_/tenant", init, tenant="listener")[0] == 201
        deadline = time.monotonic() + 60
        staff = json.dumps(
            {
                "UserDomain": "LISTENER",
                "UserName": "dcb",
                "OrganizationID": 1,
                "Enabled": True,
                "Permissions": ["PatronStatus_DisplayPatronBlocks"],
                "Password": "correct horse battery staple",
            }
        ).encode()
        while (status := _call(port, "POST", "/polaris/staff-users", staff, tenant="listener")[0]) != 201:
            assert time.monotonic() < deadline, status  # the tenant job is still loading the sample data
            time.sleep(0.2)
        basic = base64.b64encode(b"LISTENER\\dcb:correct horse battery staple").decode()
        for _ in range(4):  # each worker answers, on both ports
            status, body = _request(
                polaris_port,
                "POST",
                "/polaris.applicationservices/api/v1/eng/19/authentication/staffuser",
                {"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
                b"",
            )
            assert status == 200, body
            auth = json.loads(body)
            pas = f"PAS listener:{auth['AccessToken']}:{auth['AccessSecret']}"
            status, body = _request(
                polaris_port,
                "GET",
                "/polaris.applicationservices/api/v1/eng/19/listener/3/1/patrons/1002/blockssummary"
                "?logonBranchID=3&associatedblocks=false",
                {"Authorization": pas},
            )
            assert status == 200 and [row["BlockID"] for row in json.loads(body)] == [64, 1024]
        # the FOLIO port keeps answering as before
        assert _call(port, "GET", "/admin/health")[0] == 200
        assert _request(polaris_port, "GET", "/patron-block-conditions", {"X-Okapi-Tenant": "listener"})[0] == 404
    finally:
        log = _stop(proc)
    assert '"message": "Polaris listener listening"' in log
    assert "correct horse battery staple" not in log and basic not in log
