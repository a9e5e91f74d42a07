"""A store opened only to read (``Store.open(..., read_only=True)``, what ``mjbot jobs``, ``wait`` and ``users list``
use) is never created, switched or upgraded, and takes no write."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_migrations import OLD_JOB, build_at_version, user_version

from bot.store import NewJob, OutdatedStoreError, Store, StoreError
from bot.store.migrations import LATEST_VERSION
from bot.store.models import JobKind


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def mjbot(tmp_path: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{store.as_posix()}"\n', encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )


async def test_a_store_opened_to_read_is_read_as_it_is_and_takes_no_write(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    async with await Store.open(path) as store:
        made = await store.jobs.create_job(NewJob(JobKind.IMAGINE, "generate", "a heron", params={}))
    before = fingerprint(path)
    async with await Store.open(path, read_only=True) as store:
        assert [job.id for job in await store.jobs.recent_jobs(limit=5)] == [made.id]
        with pytest.raises(StoreError, match="read-only"):
            await store.jobs.create_job(NewJob(JobKind.IMAGINE, "generate", "a crane", params={}))
    assert fingerprint(path) == before


async def test_a_missing_or_older_store_opened_to_read_is_refused_and_left_alone(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "here.sqlite3"
    with pytest.raises(StoreError, match=f"there is no store at {missing}"):
        await Store.open(missing, read_only=True)
    assert not (tmp_path / "not").exists()

    older = tmp_path / "older.sqlite3"
    build_at_version(older, LATEST_VERSION - 1)
    before = fingerprint(older)
    with pytest.raises(OutdatedStoreError, match=f"has schema version {LATEST_VERSION - 1}, and this version"):
        await Store.open(older, read_only=True)
    assert fingerprint(older) == before and user_version(older) == LATEST_VERSION - 1


def test_commands_that_only_read_neither_make_nor_upgrade_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "data" / "deep" / "mjbot.sqlite3"
    listing = mjbot(tmp_path, missing, "jobs")
    assert listing.returncode == 1 and f"there is no store at {missing}" in listing.stderr
    assert not (tmp_path / "data").exists()

    older = tmp_path / "older.sqlite3"
    build_at_version(older, LATEST_VERSION - 1)
    before = fingerprint(older)
    for command in (["jobs"], ["wait", OLD_JOB], ["users", "list"]):
        result = mjbot(tmp_path, older, *command)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "a command that only reads never upgrades a store" in result.stderr, (command, result.stderr)
        assert fingerprint(older) == before and user_version(older) == LATEST_VERSION - 1, command
