"""The PostgreSQL test kit: a live server, a fresh database per test, and what happens when there is no server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pg_kit
import pytest

TESTS = Path(pg_kit.__file__).parent


async def test_a_database_is_fresh_and_writable(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT current_database()") == postgres_url.rsplit("/", 1)[1]
        tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        assert tables == []
        await conn.execute("CREATE TABLE probe (id BIGINT PRIMARY KEY, note TEXT NOT NULL)")
        await conn.execute("INSERT INTO probe VALUES ($1, $2)", 2**62, "kept")
        assert await conn.fetchval("SELECT note FROM probe WHERE id = $1", 2**62) == "kept"
    finally:
        await conn.close()


async def test_another_database_does_not_see_the_table_and_is_dropped_after(
    postgres_url: str, postgres_server: str
) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("CREATE TABLE probe (id INTEGER)")
    finally:
        await conn.close()

    other_url = await pg_kit.create_database(postgres_server)
    assert other_url != postgres_url
    other = await asyncpg.connect(other_url)
    try:
        assert await other.fetchval("SELECT to_regclass('public.probe')") is None
        await pg_kit.drop_database(postgres_server, other_url)  # with this connection still open
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await other.fetchval("SELECT 1")
    finally:
        other.terminate()

    admin = await asyncpg.connect(postgres_server)
    try:
        names = {row["datname"] for row in await admin.fetch("SELECT datname FROM pg_database")}
    finally:
        await admin.close()
    assert other_url.rsplit("/", 1)[1] not in names
    assert postgres_url.rsplit("/", 1)[1] in names


def test_the_kit_drops_only_its_own_databases() -> None:
    with pytest.raises(ValueError, match="refusing to drop 'postgres'"):
        asyncio.run(pg_kit.drop_database("postgresql://127.0.0.1:1/postgres", "postgresql://127.0.0.1:1/postgres"))


def test_the_kit_marks_its_tests_postgres(request: pytest.FixtureRequest, postgres_url: str) -> None:
    assert request.node.get_closest_marker("postgres") is not None
    assert postgres_url.startswith("postgresql://")


def test_database_url_keeps_the_user_host_and_options() -> None:
    url = pg_kit.database_url("postgresql://bot:pw@db.example:5433/postgres?sslmode=require", "mjbot_test_1")
    assert url == "postgresql://bot:pw@db.example:5433/mjbot_test_1?sslmode=require"


# Without a server: a throwaway pytest run (in a subprocess, so this session's server is not involved).
INNER_TESTS = """
import pytest

def test_needs_postgres(postgres_url):
    pass

@pytest.mark.postgres
def test_skipped_for_another_reason():
    pytest.skip("the feature under test is switched off")

def test_plain():
    pass
"""


def _run_without_server(tmp_path: Path, *, require: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(INNER_TESTS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {pg_kit.URL_ENV, pg_kit.REQUIRE_ENV, "PYTEST_ADDOPTS"}}
    env[pg_kit.BIN_ENV] = str(tmp_path / "no-such-bin")
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    if require:
        env[pg_kit.REQUIRE_ENV] = "1"
    # -c os.devnull: none of this project's pytest settings; the kit is the only plugin that matters.
    options = ["-p", "pg_kit", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(tmp_path), "-rs", "-q"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options, "test_inner.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_a_server_postgres_tests_are_skipped_with_the_reason(tmp_path: Path) -> None:
    done = _run_without_server(tmp_path, require=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 skipped" in done.stdout
    assert f"no PostgreSQL for the postgres tests: {pg_kit.BIN_ENV}=" in done.stdout
    assert "has no initdb or pg_ctl" in done.stdout


def test_when_required_a_missing_server_fails_the_run_and_says_why(tmp_path: Path) -> None:
    done = _run_without_server(tmp_path, require=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed, 1 error" in done.stdout
    assert "PostgreSQL is required (PG_TESTS_REQUIRED=1) but could not start" in done.stdout
    assert "has no initdb or pg_ctl" in done.stdout
    # A postgres test skipped for any other reason fails too, naming that reason.
    assert "a postgres test was skipped although PG_TESTS_REQUIRED=1 requires PostgreSQL" in done.stdout
    assert "the feature under test is switched off" in done.stdout
