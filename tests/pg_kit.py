"""PostgreSQL for tests: one throwaway server per session, and a fresh empty database per test.

Ask for ``postgres_url`` (a ``postgresql://`` URL of an empty database, dropped after the test)::

    async def test_something(postgres_url: str) -> None:
        conn = await asyncpg.connect(postgres_url)

A test that uses ``postgres_url`` or ``postgres_server`` is marked ``postgres`` by this kit (no decorator needed),
so ``pytest -m "not postgres"`` leaves them out and ``pytest -m postgres`` runs only them. The server starts the
first time a selected test asks for it, once per session (a couple of seconds), never for a run without one.

Where the server comes from:

- ``PG_TESTS_URL`` set: that server (a URL of a database its user may run ``CREATE DATABASE`` from,
  e.g. ``postgresql://postgres:secret@127.0.0.1:5432/postgres``); nothing is started.
- Otherwise a new cluster in a temporary folder, made with the server programs in ``PG_TESTS_BIN`` if set, else
  the newest ``/usr/lib/postgresql/*/bin`` (Debian's packages), else ``initdb`` and ``pg_ctl`` on the PATH. It
  listens on a free loopback port with trust authentication, runs without fsync, and is stopped and deleted at the
  end. PostgreSQL refuses to run as root, so under root the programs run as the ``postgres`` system user.

When no server can be had, the tests that need one are skipped with the reason; with ``PG_TESTS_REQUIRED=1``
(as CI sets) they fail instead, and so does any ``postgres`` test that is skipped for another reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

T = TypeVar("T")

URL_ENV = "PG_TESTS_URL"
BIN_ENV = "PG_TESTS_BIN"
REQUIRE_ENV = "PG_TESTS_REQUIRED"
MARKER = "postgres"
#: The fixtures that make a test a postgres test.
FIXTURES = frozenset({"postgres_server", "postgres_url"})
DEBIAN_ROOT = Path("/usr/lib/postgresql")
#: The system user that runs the server when the tests run as root.
SERVER_USER = "postgres"
CONNECT_TIMEOUT_S = 10.0


class PostgresUnavailableError(Exception):
    """No PostgreSQL server could be had; the message says why and what to do."""


def required() -> bool:
    """Whether a missing server fails the run instead of skipping its tests (CI)."""
    return os.environ.get(REQUIRE_ENV, "").strip() == "1"


def find_bin_dir() -> Path:
    """The folder with ``initdb`` and ``pg_ctl``: ``PG_TESTS_BIN``, the newest Debian one, or the PATH's."""
    override = os.environ.get(BIN_ENV)
    if override:
        folder = Path(override)
        missing = [name for name in ("initdb", "pg_ctl") if not (folder / name).is_file()]
        if missing:
            raise PostgresUnavailableError(f"{BIN_ENV}={override} has no {' or '.join(missing)}")
        return folder
    versions = sorted(
        (int(entry.name), entry / "bin")
        for entry in (DEBIAN_ROOT.iterdir() if DEBIAN_ROOT.is_dir() else ())
        if entry.name.isdigit() and (entry / "bin" / "initdb").is_file() and (entry / "bin" / "pg_ctl").is_file()
    )
    if versions:
        return versions[-1][1]
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    raise PostgresUnavailableError(
        f"no PostgreSQL server programs (initdb, pg_ctl) in {DEBIAN_ROOT}/*/bin or on the PATH: install the "
        f"postgresql package, point {BIN_ENV} at their folder, or set {URL_ENV} to a running server"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalCluster:
    """A throwaway PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="mjbot-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = 0
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if self.as_root:
            try:
                shutil.chown(self.folder, user=SERVER_USER, group=None)
            except (LookupError, OSError) as error:
                raise PostgresUnavailableError(
                    f"running as root, and PostgreSQL refuses to run as root, but the {SERVER_USER!r} system user "
                    f"to run it as is missing ({error}): install the postgresql package, or set {URL_ENV}"
                ) from None
        self._run(
            [
                "initdb",
                "--pgdata",
                str(self.data),
                "--username",
                SERVER_USER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
                "--no-instructions",
            ],
            what="initdb",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.folder}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "50",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        start = ["pg_ctl", "start", "--pgdata", str(self.data), "--log", str(self.log), "--wait", "--timeout", "30"]
        # A port free a moment ago may be taken before the server binds it: try another then.
        for attempt in range(3):
            self.port = _free_port()
            try:
                self._run([*start, "--options", f"-c port={self.port}"], what="pg_ctl start")
            except PostgresUnavailableError:
                if attempt == 2 or "already in use" not in self._log_text():
                    raise
            else:
                self.started = True
                return

    def stop(self) -> None:
        try:
            if self.started:
                self._run(["pg_ctl", "stop", "--pgdata", str(self.data), "--mode", "immediate", "--wait"], what="stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def _run(self, argv: Sequence[str], *, what: str) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.as_root:
            command = _as_user(SERVER_USER, command)
        try:
            done = subprocess.run(
                command,
                cwd=self.folder,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PostgresUnavailableError(f"{what} could not run: {error}") from None
        if done.returncode != 0:
            output = (done.stderr.strip() or done.stdout.strip())[-1500:]
            log = self._log_text().strip()[-1500:]
            raise PostgresUnavailableError(
                f"{what} failed (exit {done.returncode}): {output}" + (f"\nserver log:\n{log}" if log else "")
            )


def _as_user(user: str, command: list[str]) -> list[str]:
    """``command`` run as ``user`` from root: runuser (util-linux), else su."""
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user, "--", *command]
    su = shutil.which("su")
    if su:
        return [su, user, "-s", "/bin/sh", "-c", shlex.join(command)]
    raise PostgresUnavailableError(f"running as root, and neither runuser nor su is there to run PostgreSQL as {user}")


def database_url(base_url: str, name: str) -> str:
    """``base_url`` with its database replaced by ``name`` (user, host, port and options kept)."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _admin(base_url: str, statement: str) -> None:
    conn = await asyncpg.connect(base_url, timeout=CONNECT_TIMEOUT_S)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_database(base_url: str) -> str:
    """A new empty database on the server at ``base_url``; returns its URL."""
    name = f"mjbot_test_{uuid.uuid4().hex[:12]}"
    await _admin(base_url, f"CREATE DATABASE {name}")
    return database_url(base_url, name)


async def drop_database(base_url: str, url: str) -> None:
    """Drop the database ``url`` names, closing its connections by force (a test that left one open cannot keep
    it)."""
    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"mjbot_test_[0-9a-f]+", name):
        raise ValueError(f"refusing to drop {name!r}: not a database this kit made")
    await _admin(base_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _run_apart(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on an event loop of its own, in another thread: the caller may be inside a
    running loop (an async fixture asking for ``postgres_url`` through ``request.getfixturevalue``)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


@contextlib.contextmanager
def fresh_database(base_url: str) -> Iterator[str]:
    """A new empty database's URL, dropped on the way out (for code outside an event loop, such as a fixture)."""
    url = _run_apart(create_database(base_url))
    try:
        yield url
    finally:
        _run_apart(drop_database(base_url, url))


def _unavailable(reason: str) -> NoReturn:
    if required():
        pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but could not start: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL for the postgres tests: {reason}")


def start_local_cluster() -> LocalCluster | str:
    """A started throwaway cluster, or why none could start."""
    try:
        cluster = LocalCluster(find_bin_dir())
    except PostgresUnavailableError as error:
        return str(error)
    try:
        cluster.start()
    except PostgresUnavailableError as error:
        cluster.stop()
        return str(error)
    return cluster


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The base URL of a live PostgreSQL server for the whole session (see the module's docstring)."""
    given = os.environ.get(URL_ENV)
    if given:
        yield given
        return
    cluster = start_local_cluster()
    if isinstance(cluster, str):
        _unavailable(cluster)
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped after the test."""
    with fresh_database(postgres_server) as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: needs a PostgreSQL server (the postgres_url fixture, tests/pg_kit.py)"
    )


def pytest_itemcollected(item: pytest.Item) -> None:
    # At collection, before ``-m`` selects: a test that asks for the server is a postgres test.
    if FIXTURES & set(getattr(item, "fixturenames", ())):
        item.add_marker(MARKER)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.skipped and required() and item.get_closest_marker(MARKER) and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"a postgres test was skipped although {REQUIRE_ENV}=1 requires PostgreSQL: {reason}"
    return report
