"""A private PostgreSQL cluster under a data folder, for `mod-users serve` and the test session.

The cluster listens on 127.0.0.1 only, authenticates with a generated password (kept in the data
folder, mode 0600) and is reused across restarts, so a library's data survives them. PostgreSQL refuses
to run as root, so when we are root every server binary runs as the ``postgres`` OS user.

Several processes may use one folder at once (two ``serve``, a ``tenant init`` beside a ``serve``): each holds
a shared lock on ``users.lock`` for as long as it uses the cluster, the kernel dropping it however the process
ends (kill -9 included). The last one out stops the server; ``data clean`` refuses while any holds it. Every
change of state (create, start, stop, delete) happens under an exclusive lock on ``transition.lock``, so two
never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mod_users.config import DatabaseSettings
from mod_users.storage.database import ensure_database, ensure_database_if_reachable

log = logging.getLogger(__name__)

SUPERUSER = "folio_admin"
DEFAULT_DATABASE = "okapi_modules"
_SERVER_OS_USER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The private cluster could not be created, started or stopped; the message says why."""


def find_bin_dir() -> Path:
    """Locate the PostgreSQL server binaries (``PG_BIN_DIR`` wins, then PATH, then Debian's layout)."""
    explicit = os.environ.get("PG_BIN_DIR")
    candidates: list[str] = [explicit] if explicit else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))

    def _version(path: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path))

    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/usr/pgsql-*/bin"):
        candidates.extend(sorted(glob.glob(pattern), key=_version, reverse=True))
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise EmbeddedPostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install the PostgreSQL server "
        "or set PG_BIN_DIR, or point DB_HOST at a running server"
    )


def free_port() -> int:
    """Ask the kernel for a currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    """One private cluster rooted at ``root`` (``root/pgdata`` holds the data, ``root/password`` the secret).

    ``durable=False`` trades crash safety for speed (fsync off); the test session uses it for its
    throwaway cluster, ``serve`` never does.
    """

    def __init__(
        self, root: Path, port: int | None = None, *, durable: bool = True, bin_dir: Path | None = None
    ) -> None:
        self.root = Path(root).absolute()
        self.pgdata = self.root / "pgdata"
        self.password_file = self.root / "password"
        # Which process started the running server, so that a server left by a process that died (kill -9)
        # is adopted, and stopped, by the next one instead of running on forever.
        self.owner_file = self.root / "owner.pid"
        self.users_file = self.root / "users.lock"
        self._users_fd: int | None = None  # our shared lock on users_file while we use the cluster
        self.requested_port = port
        self.durable = durable
        self._bin_dir = bin_dir
        self.port: int | None = None
        self.started_here = False
        self._as_postgres = os.geteuid() == 0

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        return self._bin_dir

    # -- running the server binaries ------------------------------------------------------------
    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", _SERVER_OS_USER, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")
        if check and proc.returncode != 0:
            raise EmbeddedPostgresError(
                f"{args[0]} failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def _give_to_server_user(self, path: Path) -> None:
        if self._as_postgres:
            entry = pwd.getpwnam(_SERVER_OS_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_reachable_by_server_user(self) -> None:
        """Every parent of the data folder must be searchable by ``postgres``, or initdb fails obscurely."""
        if not self._as_postgres:
            return
        for parent in self.root.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise EmbeddedPostgresError(
                    f"the data folder {self.root} is inside {parent}, which the 'postgres' OS user cannot "
                    "enter; choose another folder with MOD_USERS_DATA_DIR (for example under /var/lib or /srv)"
                )

    # -- lifecycle ----------------------------------------------------------------------------
    def owner(self) -> int | None:
        """The process recorded as having started the server running on this folder, if one is."""
        try:
            return int(self.owner_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _password(self) -> str:
        if self.password_file.exists():
            return self.password_file.read_text().strip()
        secret = secrets.token_urlsafe(24)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
        return secret

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._check_reachable_by_server_user()
        if self._as_postgres:
            # postgres must pass through the data folder to reach pgdata; the secret inside stays 0600.
            self.root.chmod(self.root.stat().st_mode & 0o7777 | 0o001)
        password = self._password()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._give_to_server_user(self.pgdata)
        pwfile = self.pgdata.parent / f".initdb-pw-{secrets.token_hex(4)}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
            self._give_to_server_user(pwfile)
            # C collation sorts by code point (as the CQL vectors assume); C.UTF-8 ctype keeps lower()
            # Unicode-aware for case-insensitive matching.
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--lc-collate=C",
                "--lc-ctype=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = [
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "max_connections = 200",
            "shared_buffers = 128MB",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\n# mod-users embedded cluster\n" + "\n".join(settings) + "\n")

    def _running_port(self) -> int | None:
        """The port of a server already running on this data folder, if any."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        if self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode != 0:
            return None
        lines = pidfile.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def start(self) -> DatabaseSettings:
        """Create the cluster if needed, start it (or reuse a running one), return how to connect.

        From here until ``stop()`` this process counts as one of the cluster's users."""
        with self._transition():
            self._join()
            try:
                return self._start()
            except BaseException:
                self._leave()
                raise

    def _start(self) -> DatabaseSettings:
        if not self.initialised():
            log.info("creating embedded PostgreSQL cluster", extra={"pgdata": str(self.pgdata)})
            self._initdb()
        running = self._running_port()
        if running is not None:
            self.port = running
            if self._owner_died():
                self._own()
                log.info("adopted embedded PostgreSQL left running by a process that ended", extra={"port": running})
            else:
                log.info("reusing running embedded PostgreSQL", extra={"port": running})
        else:
            self.port = self.requested_port or free_port()
            self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                f"-p {int(self.port)}",
            )
            self._own()
            log.info("started embedded PostgreSQL", extra={"port": self.port})
        return self.settings()

    # -- who uses the folder ------------------------------------------------------------------
    @contextlib.contextmanager
    def _transition(self) -> Iterator[None]:
        """Hold the folder's exclusive transition lock (creating the folder) for the block."""
        fd = _locked(self.root / "transition.lock", fcntl.LOCK_EX)
        try:
            yield
        finally:
            os.close(fd)

    def _join(self) -> None:
        if self._users_fd is None:
            self._users_fd = _locked(self.users_file, fcntl.LOCK_SH)

    def _leave(self) -> None:
        if self._users_fd is not None:
            os.close(self._users_fd)
            self._users_fd = None

    def _in_use(self) -> bool:
        """Whether a process (this one included, if it joined) uses the cluster. Call under ``_transition``."""
        try:
            fd = os.open(self.users_file, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def users(self) -> list[int]:
        """The processes using the cluster now (from the kernel's table of locks; empty if none)."""
        try:
            st = self.users_file.stat()
            table = Path("/proc/locks").read_text()
        except OSError:
            return []
        where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        # "1: FLOCK  ADVISORY  READ  1234 08:01:5678 0 EOF"; waiting requests carry "->" and are not holders.
        return sorted(
            {int(f[4]) for f in (line.split() for line in table.splitlines()) if len(f) > 5 and f[5] == where}
        )

    def postmaster(self) -> int | None:
        """The PID of a live postmaster on this folder (its postmaster.pid names a running process), if any."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, under another user (postgres)
        return pid

    def _own(self) -> None:
        self.started_here = True
        self.owner_file.write_text(f"{os.getpid()}\n")

    def _owner_died(self) -> bool:
        """Whether the process recorded as the running server's starter has ended. A server with no
        record was started by someone else (by hand, say) and is never adopted."""
        pid = self.owner()
        if pid is None:
            return False
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, under another user
        return False

    def settings(self) -> DatabaseSettings:
        if self.port is None:
            raise EmbeddedPostgresError("the embedded cluster has not been started")
        return DatabaseSettings(
            host="127.0.0.1",
            port=self.port,
            username=SUPERUSER,
            password=self._password(),
            database=DEFAULT_DATABASE,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop using the cluster; the last of its users stops the server, if mod-users started it (one
        started by hand is left alone).

        ``mode`` is pg_ctl's: "fast" (clean), or "immediate" (as if the server crashed)."""
        if not self.root.exists():
            return
        with self._transition():
            self._leave()
            self.started_here = False
            if self._in_use():
                log.info("embedded PostgreSQL left running for its other users", extra={"users": self.users()})
                return
            if self.owner() is None:
                return
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", check=False)
            self.owner_file.unlink(missing_ok=True)
        log.info("stopped embedded PostgreSQL")

    def destroy(self) -> None:
        """Stop and delete the cluster (the test session's throwaway cluster)."""
        self.stop()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.root)

    def remove(self) -> None:
        """Delete the cluster's folder (``mod-users data clean``). Refused while a process uses it, or while a
        server someone started by hand runs on it; a server left by a process that ended is stopped first."""
        with self._transition():
            if self._in_use():
                pids = ", ".join(str(p) for p in self.users()) or "unknown"
                raise EmbeddedPostgresError(
                    f"the cluster in {self.root} is in use by mod-users process {pids}; stop it first"
                )
            postmaster = self.postmaster()
            if postmaster is not None:
                if self.owner() is None:
                    raise EmbeddedPostgresError(
                        f"the cluster in {self.root} is running (postmaster PID {postmaster}), started by a "
                        "process mod-users did not start; stop it first"
                    )
                self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60")
                log.info("stopped embedded PostgreSQL left running by a process that ended")
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(self.root)


def _locked(path: Path, operation: int) -> int:
    """An open descriptor of ``path`` (created, with its folder, if missing) holding ``flock(operation)``."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, operation)
            # The folder may have been deleted (data clean) while we waited: a lock on a removed file guards
            # nothing, so lock the new one.
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


# Where `serve` keeps its cluster unless told otherwise (MOD_USERS_DATA_DIR, --data-dir): in the working folder.
DEFAULT_DATA_DIR = Path(".mod-users")
# Where the default folder goes when, as root, the postgres OS user cannot enter it (a checkout under /root).
MOVED_DATA_ROOT = Path("/var/lib/mod-users")


@dataclass(frozen=True)
class DataFolder:
    """The embedded cluster's folder, and the default one it stands in for when that one was unreachable."""

    path: Path
    moved_from: Path | None = None

    def describe(self) -> str:
        if self.moved_from is None:
            return str(self.path)
        return (
            f"{self.path} (instead of {self.moved_from}, which the 'postgres' OS user cannot enter; "
            "set MOD_USERS_DATA_DIR to choose)"
        )


def _reachable_by_server_user(folder: Path) -> bool:
    return os.geteuid() != 0 or all(p.stat().st_mode & 0o001 for p in folder.parents if p.exists())


def data_folder(configured: Path | None) -> DataFolder:
    """The folder the embedded cluster lives in: the one configured, exactly; else ``.mod-users`` in the
    working folder, or, when as root the server user could not reach that, a folder of its own under
    /var/lib/mod-users named after it (stable across runs; it records what it stands in for)."""
    if configured is not None:
        return DataFolder(Path(configured).absolute())
    default = DEFAULT_DATA_DIR.absolute()
    if _reachable_by_server_user(default):
        return DataFolder(default)
    digest = hashlib.sha1(str(default).encode()).hexdigest()[:10]
    return DataFolder(MOVED_DATA_ROOT / f"{default.parent.name or 'root'}-{digest}", moved_from=default)


def moved_data_folders() -> list[tuple[Path, str]]:
    """Every folder under /var/lib/mod-users that stands in for an unreachable default, with its origin."""
    if not MOVED_DATA_ROOT.is_dir():
        return []
    found = []
    for folder in sorted(p for p in MOVED_DATA_ROOT.iterdir() if p.is_dir()):
        origin = folder / "origin"
        found.append((folder, origin.read_text().strip() if origin.exists() else "unknown"))
    return found


@contextlib.contextmanager
def database_session(
    configured: DatabaseSettings, root: Path | None = None, *, port: int | None = None, durable: bool = True
) -> Iterator[DatabaseSettings]:
    """The database to use for the length of a block, with its database created if missing.

    The configured server when ``DB_HOST`` is set; otherwise a private cluster: kept under ``root`` and
    stopped afterwards (``serve``), or a throwaway one deleted afterwards when ``root`` is None (the
    test session, the benchmarks).
    """
    if configured.host:
        asyncio.run(ensure_database_if_reachable(configured))
        yield configured
        return
    throwaway = root is None
    cluster = EmbeddedPostgres(
        Path(tempfile.mkdtemp(prefix="mod-users-")) if throwaway else root, port, durable=durable
    )
    try:
        db = cluster.start()
        asyncio.run(ensure_database(db))
        yield db
    finally:
        if throwaway:
            cluster.destroy()
        else:
            cluster.stop()
