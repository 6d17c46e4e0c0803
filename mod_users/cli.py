"""The ``mod-users`` command: a thin layer over the library.

mod-users serve                     run the service (embedded PostgreSQL unless DB_HOST is set)
mod-users tenant init TENANT        create/upgrade a tenant's schema (--load-reference, --load-sample)
mod-users tenant purge TENANT       drop a tenant's schema
mod-users data where|list|clean     where the embedded PostgreSQL keeps its data; list or delete it
mod-users cql "QUERY"               print the SQL a CQL query becomes
mod-users descriptor [--check]      print the ModuleDescriptor (template filled in), or check it
mod-users contract URL --tenant T [--header N=V] [--uri N=V] [--allow-unreached] [--contract-dir DIR]
                                    check a running instance against the contract it serves (or DIR's)
mod-users --version                 print the version
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mod_users.config import PROJECT_ROOT, ConfigError, DatabaseSettings, Settings, load_settings
from mod_users.logs import configure_logging
from mod_users.storage.embedded import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    data_folder,
    database_session,
    moved_data_folders,
)

if TYPE_CHECKING:
    from mod_users.contract import Contract
    from mod_users.contract.probe import Report

log = logging.getLogger("mod_users")

MODULE_ID = "mod-users"


def database(settings: Settings) -> contextlib.AbstractContextManager[DatabaseSettings]:
    """The configured database (DB_HOST), or the embedded cluster in its data folder, for the block."""
    if settings.db.host:
        return database_session(settings.db)
    folder = data_folder(settings.data_dir)
    if folder.moved_from is not None:
        log.warning("embedded PostgreSQL data folder moved", extra={"dataDir": folder.describe()})
        folder.path.mkdir(parents=True, exist_ok=True)
        (folder.path / "origin").write_text(f"{folder.moved_from}\n")
    log.info("embedded PostgreSQL data folder", extra={"dataDir": str(folder.path)})
    return database_session(settings.db, folder.path, port=settings.embedded_pg_port)


def listening_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` (OSError when it cannot be: the port is taken, say)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _run_worker(
    settings: Settings,
    db: DatabaseSettings,
    host: str,
    port: int,
    sock: socket.socket | None,
    polaris_sock: socket.socket | None = None,
) -> None:
    """One serving process: the app on ``sock`` (or its own SO_REUSEPORT socket on ``host:port``), and Polaris
    clients' listener on ``polaris_sock`` (or its own on POLARIS_PORT, unless that is 0), until SIGTERM/SIGINT,
    then a graceful drain. "listening" is logged once the server accepts connections."""
    from aiohttp import web

    from mod_users.app import init_app
    from mod_users.resources.polaris.listener import polaris_listener

    configure_logging(settings.log_level)
    sock = sock or listening_socket(host, port, reuse_port=True)
    address = f"{host}:{sock.getsockname()[1]}"
    app = init_app(settings, db)
    if settings.polaris_port:
        polaris_sock = polaris_sock or listening_socket(host, settings.polaris_port, reuse_port=True)
        app.cleanup_ctx.append(polaris_listener(polaris_sock))

    def listening(_banner: str) -> None:
        where = f"{db.host}:{db.port}/{db.database}"
        log.info("mod-users listening", extra={"address": address, "pid": os.getpid(), "database": where})

    web.run_app(app, sock=sock, print=listening, shutdown_timeout=30, access_log=None)


def _cannot_listen(host: str, port: int, exc: OSError) -> int:
    reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    print(f"mod-users: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
    return 1


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    port = args.port if args.port is not None else settings.http_port
    host = args.host or settings.http_host
    workers = args.workers or settings.workers
    if args.polaris_port is not None:
        from dataclasses import replace

        settings = replace(settings, polaris_port=args.polaris_port)
    # Both ports bound before anything starts: a port in use is one line and exit 1, not a traceback.
    try:
        sock = listening_socket(host, port, reuse_port=workers > 1)
    except OSError as exc:
        return _cannot_listen(host, port, exc)
    polaris_sock = None
    if settings.polaris_port:
        try:
            polaris_sock = listening_socket(host, settings.polaris_port, reuse_port=workers > 1)
        except OSError as exc:
            sock.close()
            return _cannot_listen(host, settings.polaris_port, exc)
    with sock, database(settings) as db:
        if workers == 1:
            _run_worker(settings, db, host, port, sock, polaris_sock)
            return 0
        bound = sock.getsockname()[1]  # the port the kernel chose, for HTTP_PORT=0
        sock.close()  # each worker binds its own SO_REUSEPORT sockets
        if polaris_sock is not None:
            polaris_sock.close()
        return _serve_workers(settings, db, host, bound, workers)


def _serve_workers(settings: Settings, db: DatabaseSettings, host: str, port: int, workers: int) -> int:
    """``workers`` processes share the port through SO_REUSEPORT, the kernel spreading connections
    between them; this parent only forwards SIGTERM/SIGINT and waits, so the database it owns is
    stopped after the last worker has drained."""
    import multiprocessing
    import signal

    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_run_worker, args=(settings, db, host, port, None), daemon=False) for _ in range(workers)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    return max((child.exitcode or 0) for child in children)


def _tenant(settings: Settings, args: argparse.Namespace) -> int:
    from mod_users.storage.tenants import TenantSchema

    ts = TenantSchema(args.tenant)

    async def run(db: DatabaseSettings) -> list[str]:
        from aiohttp import web

        from mod_users.app import init_app
        from mod_users.storage.migrations import purge_tenant
        from mod_users.tenant.api import run_init

        app = init_app(settings, db)
        runner = web.AppRunner(app)
        await runner.setup()  # runs the app's start-up: the pool exists from here on
        try:
            from mod_users.state import POOL

            if args.action == "purge":
                async with app[POOL].acquire() as con:
                    return [f"purged: {await purge_tenant(con, ts)}"]
            parameters = [
                {"key": "loadReference", "value": str(args.load_reference).lower()},
                {"key": "loadSample", "value": str(args.load_sample).lower()},
            ]
            return await run_init(app, ts, {"module_to": args.module_to, "parameters": parameters})
        finally:
            await runner.cleanup()

    with database(settings) as db:
        for message in asyncio.run(run(db)):
            print(message)
    return 0


def _data(settings: Settings, args: argparse.Namespace) -> int:
    """Where the embedded cluster keeps its data (the same rule serve follows); list or delete it."""
    folder = data_folder(settings.data_dir)
    if args.action == "where":
        print(folder.describe())
        return 0
    if args.action == "list":
        for path, origin in [(folder.path, "this folder's default"), *moved_data_folders()]:
            if path.exists():
                print(f"{path}\t{origin}\t{_data_state(EmbeddedPostgres(path))}")
        return 0
    if not folder.path.exists():
        print(f"nothing to clean: {folder.path} does not exist")
        return 0
    EmbeddedPostgres(folder.path).remove()
    print(f"removed {folder.path}")
    return 0


def _data_state(cluster: EmbeddedPostgres) -> str:
    users = cluster.users()
    postmaster = cluster.postmaster()
    if users:
        return f"in use by process {', '.join(str(pid) for pid in users)}"
    if postmaster is not None and cluster.owner() is not None:
        return f"not in use; PostgreSQL left running by a process that ended (PID {postmaster}; clean stops it)"
    if postmaster is not None:
        return f"not in use by mod-users; PostgreSQL started by hand runs on it (PID {postmaster})"
    return "not in use"


def _cql(settings: Settings, args: argparse.Namespace) -> int:
    from mod_users.cql.explain import main as explain

    extra = list(args.options)
    if args.table:
        # The table's own declarations, so the translation is the one its searches really run.
        from mod_users.storage.tables import ALL_TABLES

        tables = {t.name: t for t in ALL_TABLES}
        if args.table not in tables:
            print(f"mod-users cql: unknown table {args.table!r}; tables: {', '.join(sorted(tables))}", file=sys.stderr)
            return 2
        table = tables[args.table]
        extra += ["--server-choice", ",".join(table.server_choice)]
        for index in table.indexes:
            flags = ("respect-case",) * index.case_sensitive + ("respect-accents",) * (not index.remove_accents)
            extra += ["--index", ":".join((index.field, index.kind, *flags))]
    return explain([args.query, *extra])


def _descriptor(settings: Settings, args: argparse.Namespace) -> int:
    from mod_users.descriptor import descriptor_problems, module_version, render_descriptor

    root = settings.contract_dir
    descriptor = render_descriptor(root / "descriptors" / "ModuleDescriptor-template.json", module_version(root))
    if args.check:
        problems = descriptor_problems(descriptor)
        for problem in problems:
            print(f"mod-users descriptor: {problem}", file=sys.stderr)
        print(f"{descriptor['id']}: {len(problems)} problem(s)" if problems else f"{descriptor['id']}: passes")
        return 1 if problems else 0
    print(json.dumps(descriptor, indent=2))
    return 0


def _contract(settings: Settings, args: argparse.Namespace) -> int:
    import tempfile

    headers = dict(_pair(h) for h in args.header)
    uri_values = dict(_pair(u) for u in args.uri)
    with tempfile.TemporaryDirectory(prefix="mod-users-contract-") as mirror:
        contract = _read_contract(args, headers, Path(mirror))
        if contract is None:
            return 2
        return _check_instance(args, contract, headers, uri_values)


def _read_contract(args: argparse.Namespace, headers: dict[str, str], mirror: Path) -> Contract | None:
    """The contract in ``--contract-dir``, else the one the instance serves (mirrored into ``mirror``)."""
    import aiohttp

    from mod_users.contract import RamlError, load_contract
    from mod_users.contract.remote import ContractNotServed, mirror_contract

    try:
        root = args.contract_dir or asyncio.run(
            mirror_contract(args.url, {"X-Okapi-Tenant": args.tenant, **headers}, mirror)
        )
        return load_contract(root / "ramls", root / "schemas")
    except (ContractNotServed, RamlError, ValueError, aiohttp.ClientError, TimeoutError) as exc:
        where = args.contract_dir or f"{args.url} (/_/ramls, /_/jsonSchemas)"
        print(
            f"mod-users contract: cannot read the contract from {where}: {exc or type(exc).__name__}", file=sys.stderr
        )
        return None


def _check_instance(
    args: argparse.Namespace, contract: Contract, headers: dict[str, str], uri_values: dict[str, str]
) -> int:
    """Run the check and print its report; 0 all good, 1 broken or unreached routes, 2 nothing checked."""
    import aiohttp

    from mod_users.contract.probe import TenantNotUsable, check_instance

    try:
        report = asyncio.run(check_instance(args.url, args.tenant, contract, headers, uri_values))
    except TenantNotUsable as exc:
        print(
            f"mod-users contract: nothing checked, the tenant is not usable: {exc}\n"
            f"Initialise it first (POST /_/tenant; loadSample=true gives the Polaris-style routes the "
            f"records their examples name).",
            file=sys.stderr,
        )
        return 2
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"mod-users contract: {args.url} stopped answering: {exc or type(exc).__name__}", file=sys.stderr)
        return 2
    _print_report(report)
    if report.broken:
        return 1
    if report.unreached and not args.allow_unreached:
        print(
            "Some routes never answered a documented success, so their success bodies were not checked: "
            "give existing values with --uri NAME=VALUE (and the routes' permissions with --header "
            "X-Okapi-Permissions=[...]), or accept it with --allow-unreached."
        )
        return 1
    return 0


def _print_report(report: Report) -> None:
    """Each request and what was wrong with its answer, then each route's outcome and the summaries."""
    for finding in report.findings:
        mark = "FAIL" if finding.problems else "ok  "
        print(f"{mark} {finding.status} {finding.method} {finding.url} ({finding.probe})")
        for problem in finding.problems:
            print(f"       {problem}")
    print("\nroutes:")
    for route in report.routes:
        if route.success is not None:
            print(f"  success {route.success} {route.method} {route.path}")
        else:
            answered = ", ".join(str(s) for s in sorted(set(route.statuses))) or "nothing"
            print(f"  NO 2xx  {route.method} {route.path} (answered {answered})")
    reached = len(report.routes) - len(report.unreached)
    print(f"{reached} of {len(report.routes)} routes answered a documented success")
    print(f"{len(report.findings)} requests, {len(report.broken)} broke the contract")


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def version() -> str:
    """This installation's version (the checkout's pyproject.toml, else the installed distribution's)."""
    from mod_users.descriptor import module_version

    return module_version(PROJECT_ROOT)


DATA_DIR_HELP = (
    "the embedded PostgreSQL's folder (default MOD_USERS_DATA_DIR, else .mod-users in the working folder; "
    "as root, when the postgres user cannot enter that, a folder under /var/lib/mod-users: 'mod-users data "
    "where' tells). Not used when DB_HOST is set"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mod-users", description="FOLIO-style users module")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--port", type=int, help="HTTP port (default HTTP_PORT or 8081)")
    serve.add_argument("--host", help="address to listen on (default HTTP_HOST or 0.0.0.0)")
    serve.add_argument(
        "--polaris-port", type=int, help="Polaris clients' listener (default POLARIS_PORT or 8082; 0 turns it off)"
    )
    serve.add_argument("--workers", type=int, help="serving processes sharing the port (default WORKERS or 1)")
    serve.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    serve.set_defaults(run=_serve)
    tenant = sub.add_parser(
        "tenant",
        help="initialise or purge a tenant without going through HTTP",
        description="What POST /_/tenant does, run directly against the database (DB_HOST, or the embedded "
        "cluster): 'init' creates or upgrades the tenant's schema <tenant>_mod_users and loads the data asked "
        "for; 'purge' drops the schema with all its data.",
    )
    tenant.add_argument(
        "action", choices=["init", "purge"], help="init: create or upgrade the schema; purge: drop it and its data"
    )
    tenant.add_argument("tenant", help="the tenant id (lowercase letters, digits, _; as in X-Okapi-Tenant)")
    tenant.add_argument(
        "--module-to",
        default=f"{MODULE_ID}-{version()}",
        help="the module id recorded as installed, as Okapi's module_to (default %(default)s)",
    )
    tenant.add_argument(
        "--load-reference",
        action="store_true",
        help="load reference data (the default patron block conditions, Polaris countries): loadReference=true",
    )
    tenant.add_argument(
        "--load-sample",
        action="store_true",
        help="load sample data (the example Polaris library system): loadSample=true",
    )
    tenant.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    tenant.set_defaults(run=_tenant)
    data = sub.add_parser(
        "data",
        help="where the embedded PostgreSQL keeps its data; list or delete it",
        description="where: the folder serve and tenant use; list: it and every folder under "
        "/var/lib/mod-users standing in for an unreachable default, with the mod-users processes using it; clean: "
        "delete the folder, refused while a mod-users process uses it (a server left running by one that has "
        "ended is stopped first; one started by hand is refused).",
    )
    data.add_argument("action", choices=["where", "list", "clean"], help="what to do (see above)")
    data.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    data.set_defaults(run=_data)
    cql = sub.add_parser("cql", help="print the SQL translation of a CQL query")
    cql.add_argument("query", help="the CQL query, e.g. 'name==Max* sortby name'")
    cql.add_argument("--table", help="translate with this table's indexes and server-choice fields")
    cql.epilog = "Other options (--index FIELD:KIND, --server-choice ...) go to mod_users.cql.explain."
    cql.set_defaults(run=_cql)
    descriptor = sub.add_parser("descriptor", help="print the ModuleDescriptor (the template filled in)")
    descriptor.add_argument(
        "--check",
        action="store_true",
        help="check it instead, with the rules of FOLIO's module descriptor validator, Okapi and Eureka; "
        "exit 1 and list the problems if it breaks one",
    )
    descriptor.set_defaults(run=_descriptor)
    contract = sub.add_parser("contract", help="check a running instance against the contract")
    contract.add_argument("url", help="base URL of the module, e.g. http://localhost:8081")
    contract.add_argument("--tenant", required=True, help="an initialised tenant to run against")
    contract.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a header to send with every request, e.g. X-Okapi-Permissions=[...]",
    )
    contract.add_argument(
        "--uri",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for a URI parameter, used before any other (e.g. patronId=1006)",
    )
    contract.add_argument(
        "--allow-unreached", action="store_true", help="exit 0 even if some routes never answered a documented success"
    )
    contract.add_argument(
        "--contract-dir",
        type=Path,
        metavar="DIR",
        help="check against the ramls/ and schemas/ in DIR (default: the contract the "
        "instance serves at /_/ramls and /_/jsonSchemas)",
    )
    contract.set_defaults(run=_contract)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mod-users`` console script."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "cql":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.options = unknown
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"mod-users: configuration error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "data_dir", None):
        from dataclasses import replace

        settings = replace(settings, data_dir=args.data_dir)
    configure_logging(settings.log_level)
    try:
        return int(args.run(settings, args))
    except EmbeddedPostgresError as exc:
        print(f"mod-users: embedded PostgreSQL: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
