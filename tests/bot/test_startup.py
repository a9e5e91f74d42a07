"""Start-up failures an operator meets in the first hour: each is one line on stderr and a non-zero exit, fast.

Each test runs the real ``mjbot`` in a child process, as an operator would, and asserts what the terminal shows.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakediscord import FakeDiscord

from bot.startup import StartupError, wait_for_discord
from bot.store import Store
from bot.store.models import JobKind, JobStatus, NewJob
from bot.store.sqlite_schema import explain

#: The issue's bound: every start-up failure is told within this many seconds.
LIMIT_S = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(
    folder: Path,
    *,
    api_base: str,
    gateway_url: str = "ws://127.0.0.1:1/gateway",
    listen_port: int = 0,
    store: str = "mjbot.sqlite3",
) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"""
[discord]
token = "the-wrong-token"
api_base = "{api_base}"
gateway_url = "{gateway_url}"
[acedata]
base_url = "emulator"
[callback]
listen_port = {listen_port}
[emulator]
listen_port = 0
[store]
path = "{store}"
""",
        encoding="utf-8",
    )
    return path


async def mjbot(*args: str, cwd: Path) -> tuple[int, str, str, float]:
    """Run ``mjbot ARGS``; its exit code, stdout, stderr and how long it took."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MJBOT_")}
    env.pop("DISCORD_TOKEN", None)
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=LIMIT_S + 15)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode(), time.monotonic() - began


def one_line(stderr: str) -> str:
    """The operator's line: the one stderr line that starts with ``mjbot:``; and no traceback anywhere."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("mjbot:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
async def strict_discord() -> Iterator[FakeDiscord]:
    """A loopback Discord that knows one bot token only."""
    async with FakeDiscord(required_token="the-right-token") as fake:
        yield fake  # type: ignore[misc]


async def test_a_wrong_discord_token_is_one_line_and_exit_2(strict_discord: FakeDiscord, tmp_path: Path) -> None:
    config = write_config(tmp_path, api_base=strict_discord.api_base, gateway_url=strict_discord.gateway_url)
    code, _, err, took = await mjbot("run", "--config", str(config), cwd=tmp_path)
    assert code == 2 and took < LIMIT_S
    line = one_line(err)
    assert "Discord refused the bot token (401 Unauthorized)" in line and "DISCORD_TOKEN" in line
    assert "the-wrong-token" not in err  # never print a token, even a wrong one


async def test_discord_unreachable_is_retried_then_one_line_and_exit_1(tmp_path: Path) -> None:
    dead = free_port()  # nobody listens there: connection refused
    config = write_config(tmp_path, api_base=f"http://127.0.0.1:{dead}/api/v10")
    code, _, err, took = await mjbot("run", "--config", str(config), cwd=tmp_path)
    assert code == 1 and took < LIMIT_S
    line = one_line(err)
    assert f"cannot reach Discord at http://127.0.0.1:{dead}/api/v10 after 4 attempts" in line
    assert "network, DNS and firewall" in line
    assert err.count("trying again") == 3  # the retries are logged as they happen


async def test_wait_for_discord_gives_up_after_its_retries_and_backs_off() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(StartupError) as caught:
        await wait_for_discord(f"http://127.0.0.1:{free_port()}/api/v10", delays=(1, 2, 4), sleep=sleep)
    assert waits == [1, 2, 4]
    assert "connection failed" in str(caught.value) and caught.value.exit_code == 1


async def test_the_listener_port_taken_is_one_line_naming_the_keys(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = write_config(
            tmp_path, api_base=fake_discord.api_base, gateway_url=fake_discord.gateway_url, listen_port=port
        )
        code, _, err, took = await mjbot("run", "--config", str(config), cwd=tmp_path)
    assert code == 1 and took < LIMIT_S
    line = one_line(err)
    assert f"port {port} on 127.0.0.1 is already in use by another program" in line
    assert "[callback] listen_host and listen_port" in line


async def test_a_port_out_of_range_is_refused_by_config_and_cli(tmp_path: Path) -> None:
    config = write_config(tmp_path, api_base="http://127.0.0.1:1/api/v10", listen_port=70000)
    code, _, err, _ = await mjbot("run", "--config", str(config), cwd=tmp_path)
    assert code == 2
    assert "[callback] listen_port must be a port number from 0 to 65535, got 70000" in one_line(err)
    code, _, err, _ = await mjbot("emulator", "--port", "70000", cwd=tmp_path)
    assert code == 2 and "70000 is out of range: a port is a number from 0 to 65535" in err
    assert "Traceback" not in err


async def test_mjbot_emulator_with_its_port_taken_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        code, out, err, took = await mjbot("emulator", "--port", str(port), cwd=tmp_path)
    assert code == 1 and took < LIMIT_S
    assert f"port {port} on 127.0.0.1 is already in use by another program (--host and --port)" in one_line(err)
    assert "mjbot emulator on" not in out  # it never claims to listen


def damaged_store(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.executescript("CREATE TABLE t(x); INSERT INTO t VALUES (1);" + "INSERT INTO t SELECT x FROM t;" * 10)
    connection.close()
    with path.open("r+b") as file:
        file.seek(100)
        file.write(b"\xff" * 4000)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_text("hello, not a database"), "is not an SQLite database"),
        (lambda p: p.mkdir(), "is a folder; set [store] path to a file in it"),
        (damaged_store, "is damaged (database disk image is malformed); restore it from a backup"),
    ],
    ids=["not-sqlite", "folder", "corrupted"],
)
async def test_a_bad_store_is_one_line_for_the_bot_and_the_cli(
    fake_discord: FakeDiscord, tmp_path: Path, make: object, expected: str
) -> None:
    store = tmp_path / "store.sqlite3"
    make(store)  # type: ignore[operator]
    config = write_config(
        tmp_path, api_base=fake_discord.api_base, gateway_url=fake_discord.gateway_url, store=store.name
    )
    for command in ("run", "jobs"):
        code, _, err, took = await mjbot(command, "--config", str(config), cwd=tmp_path)
        assert code == 1 and took < LIMIT_S, err
        assert expected in one_line(err)


def test_a_read_only_store_is_explained(tmp_path: Path) -> None:
    # Permission bits do not stop root (CI runs as root), so the read-only error comes from SQLite's own mode.
    path = tmp_path / "ro.sqlite3"
    sqlite3.connect(path).executescript("CREATE TABLE t(x);")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        connection.execute("INSERT INTO t VALUES (1)")
    connection.close()
    message = str(explain(path, caught.value))
    assert message.startswith(f"the database {path} is read-only")
    assert "give the user that runs mjbot write access to the file and its folder" in message


async def test_a_closed_pipe_ends_mjbot_jobs_quietly(tmp_path: Path) -> None:
    config = write_config(tmp_path, api_base="http://127.0.0.1:1/api/v10")
    store = await Store.open(tmp_path / "mjbot.sqlite3")
    try:
        for number in range(1500):  # far more than a pipe buffer holds
            await store.jobs.create_job(NewJob(JobKind.VIDEO, "generate", f"job {number}", status=JobStatus.FAILED))
    finally:
        await store.close()
    read, write = os.pipe()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MJBOT_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "jobs", "--limit", "1500", "--config", str(config),
        cwd=tmp_path, env=env, stdout=write, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        reader.readline()  # what ``| head -1`` does: read one line and go away
    _, err = await asyncio.wait_for(process.communicate(), timeout=LIMIT_S)
    assert process.returncode == 0, err
    assert err == b""


async def test_a_gateway_out_of_reach_is_retried_then_one_line_and_exit_1(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    gateway = f"ws://127.0.0.1:{free_port()}/gateway"  # the REST API answers, the websocket is refused
    config = write_config(tmp_path, api_base=fake_discord.api_base, gateway_url=gateway)
    code, _, err, took = await mjbot("run", "--config", str(config), cwd=tmp_path)
    assert code == 1 and took < LIMIT_S
    line = one_line(err)
    assert f"cannot reach Discord's gateway at {gateway} after 4 attempts (connection failed" in line
    assert "let websockets through" in line and "[discord] gateway_url" in line
    assert err.count("trying again") == 3
    assert fake_discord.identifies == []


async def test_an_attempt_to_reach_discord_gives_up_soon_on_a_host_that_never_answers() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        began = time.monotonic()
        with pytest.raises(StartupError) as caught:
            await wait_for_discord(f"http://127.0.0.1:{port}/api/v10", delays=())
        took = time.monotonic() - began
    # Four attempts and 7 s of waits must stay well under 30 s with the time Python takes to start.
    assert took < 3.5 and "no answer within 3 s" in str(caught.value)


async def test_sigterm_during_the_start_up_retries_stops_at_once_and_exits_0(tmp_path: Path) -> None:
    config = write_config(tmp_path, api_base=f"http://127.0.0.1:{free_port()}/api/v10")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MJBOT_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        seen = b""
        while b"trying again" not in seen:
            seen += await asyncio.wait_for(process.stderr.readline(), timeout=LIMIT_S)
        process.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        rest = await asyncio.wait_for(process.stderr.read(), timeout=LIMIT_S)
        code = await process.wait()
        took = time.monotonic() - asked
    finally:
        if process.returncode is None:
            process.kill()
    err = (seen + rest).decode()
    assert code == 0 and took < 5, (took, err)  # a stop that was asked for is no failure
    assert "mjbot stopped" in err and "Traceback" not in err and "mjbot: cannot reach" not in err
