"""``mjbot store copy`` and ``mjbot store check`` through the CLI's main function, on real SQLite files and a real
PostgreSQL server."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from transfer_kit import TOKEN, Clock, Sample, answers, fill

from bot.cli import main
from bot.store import Store


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _sample(path: Path) -> Sample:
    store = await Store.open(path)
    try:
        return await fill(store, Clock())
    finally:
        await store.close()


async def _answers(where: str | Path, made: Sample) -> dict[str, object]:
    store = await Store.open(where)
    try:
        return await answers(store, made)
    finally:
        await store.close()


def with_password(url: str, password: str) -> str:
    """The test server trusts every local connection: a password in the URL is taken and never checked."""
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}").geturl()


def test_copy_to_postgresql_then_check_then_copy_back(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mjbot.sqlite3"
    made = asyncio.run(_sample(source))
    url = with_password(postgres_url, "Secret-pw-77")

    code, out, err = run("store", "copy", "--from", str(source), "--to", url, capsys=capsys)

    assert code == 0, err
    assert "Secret-pw-77" not in out + err
    assert f"Copying {source} into {with_password(postgres_url, '***')}" in out
    for table, rows in (("jobs", "7 rows"), ("message_links", "4 rows"), ("user_settings", "1 row")):
        assert re.search(rf"^  {table} +{rows}$", out, re.MULTILINE), out
    assert "Copied 19 rows in" in out and "mjbot store check" in out

    code, out, err = run("store", "check", "--from", str(source), "--to", url, capsys=capsys)
    assert code == 0, out + err
    assert "Secret-pw-77" not in out + err
    assert "The stores hold the same data: 19 rows" in out
    assert "DIFFERENT" not in out

    before = asyncio.run(_answers(source, made))
    assert asyncio.run(_answers(postgres_url, made)) == before
    assert before["links"][0].interaction_token == TOKEN  # type: ignore[index]

    back = tmp_path / "back" / "mjbot.sqlite3"
    code, out, err = run("store", "copy", "--from", url, "--to", str(back), capsys=capsys)
    assert code == 0, err
    code, out, err = run("store", "check", "--from", str(source), "--to", str(back), capsys=capsys)
    assert code == 0, out + err
    assert asyncio.run(_answers(back, made)) == before


def test_check_exits_1_naming_the_table_and_the_row(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mjbot.sqlite3"
    made = asyncio.run(_sample(source))
    assert run("store", "copy", "--from", str(source), "--to", postgres_url, capsys=capsys)[0] == 0

    async def change_one_row() -> None:
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute("UPDATE jobs SET prompt = 'a blue fox' WHERE id = $1", made.grid)
        finally:
            await conn.close()

    asyncio.run(change_one_row())
    code, out, err = run("store", "check", "--from", str(source), "--to", postgres_url, capsys=capsys)

    assert code == 1, out + err
    assert "DIFFERENT: 1 row\n" in out
    assert f"id {made.grid}: differs in prompt" in out
    assert "The stores differ, in jobs" in out
    lines = {line.split()[0]: line for line in out.splitlines()[2:] if line.startswith("  ") and line.split()}
    assert "same" in lines["usage_ledger"] and "same" in lines["message_links"]


def test_copy_refuses_a_target_that_holds_jobs_and_leaves_it_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "mjbot.sqlite3", tmp_path / "target.sqlite3"
    asyncio.run(_sample(source))
    made = asyncio.run(_sample(target))

    code, _, err = run("store", "copy", "--from", str(source), "--to", str(target), capsys=capsys)

    assert code == 1
    assert err.strip() == (
        f"mjbot: the target {target} already holds 7 jobs; copy into an empty store (a new SQLite file, or an "
        "empty PostgreSQL database)"
    )
    with sqlite3.connect(target) as conn:
        assert sorted(row[0] for row in conn.execute("SELECT id FROM jobs")) == sorted(made.jobs)
    conn.close()


def test_copy_refuses_one_store_twice_and_a_missing_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "mjbot.sqlite3"
    asyncio.run(_sample(source))

    code, _, err = run("store", "copy", "--from", str(source), "--to", f"{tmp_path}/./mjbot.sqlite3", capsys=capsys)
    assert code == 1
    assert f"--from and --to both name {source}; copy into another, empty store" in err

    missing = tmp_path / "old" / "mjbot.sqlite3"
    code, _, err = run("store", "copy", "--from", str(missing), "--to", str(tmp_path / "new.sqlite3"), capsys=capsys)
    assert code == 1
    assert f"there is no store at {missing} (--from)" in err
    assert not missing.parent.exists() and not (tmp_path / "new.sqlite3").exists()

    code, _, err = run("store", "check", "--from", str(source), "--to", str(missing), capsys=capsys)
    assert code == 1
    assert f"there is no store at {missing} (--to)" in err


def test_an_unreachable_database_is_named_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mjbot.sqlite3"
    asyncio.run(_sample(source))
    url = "postgresql://mjbot:Hidden-pw-3@127.0.0.1:1/mjbot"  # nothing listens on port 1

    code, out, err = run("store", "copy", "--from", str(source), "--to", url, capsys=capsys)

    assert code == 1
    assert "Hidden-pw-3" not in out + err
    assert "cannot reach PostgreSQL at postgresql://mjbot:***@127.0.0.1:1/mjbot" in err


def test_store_commands_need_both_stores(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["store", "copy", "--from", "a.sqlite3"])
    assert exit_.value.code == 2
    assert "the following arguments are required: --to" in capsys.readouterr().err
