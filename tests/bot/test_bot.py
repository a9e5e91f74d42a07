"""``mjbot run`` as a real process against the loopback Discord: where it syncs the slash commands (a guild's
commands show up in that guild at once, global ones everywhere), that it leaves them alone when told to, what
it asks the gateway for, and that it stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest
from fakediscord import FakeDiscord

from bot.bot import GatewayWatch, bot_intents

COMMANDS_PUT = r"/applications/\d+(?:/guilds/\d+)?/commands"
EXPECTED_COMMANDS = {"video", "imagine", "jobs", "show"}


def write_config(
    path: Path,
    fake: FakeDiscord,
    *,
    sync: bool,
    guild_ids: list[int] | None,
    listen_port: int = 0,
    emulator_port: int = 0,
    job_duration_s: float = 8,
) -> Path:
    guilds = f"guild_ids = {guild_ids}\n" if guild_ids is not None else ""
    path.write_text(
        f"""
[discord]
token = "run-token"
api_base = "{fake.api_base}"
gateway_url = "{fake.gateway_url}"
sync_commands = {"true" if sync else "false"}
{guilds}
[acedata]
base_url = "emulator"
[callback]
listen_port = {listen_port}
[emulator]
listen_port = {emulator_port}
job_duration_s = {job_duration_s}
[jobs]
poll_interval_s = 1
[store]
path = "{(path.parent / "mjbot.sqlite3").as_posix()}"
[logging]
level = "INFO"
""",
        encoding="utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def mjbot_run(
    config: Path, fake: FakeDiscord, *, stop_within_s: float = 15
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``mjbot run --config ...`` until it is connected; stopped with SIGTERM (it must exit 0 within
    ``stop_within_s``) when done."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MJBOT_")}
    env.pop("DISCORD_TOKEN", None)
    env.pop("ACEDATA_TOKEN", None)
    log_path = config.parent / "mjbot.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config),
            cwd=config.parent, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            try:
                await fake.wait_until_connected(timeout=20)
            except TimeoutError:
                raise AssertionError(f"mjbot run did not connect:\n{log_path.read_text(errors='replace')}") from None
            yield process
            process.send_signal(signal.SIGTERM)
            asked = time.monotonic()
            try:
                code = await asyncio.wait_for(process.wait(), timeout=stop_within_s)
            except TimeoutError:
                text = log_path.read_text(errors="replace")
                raise AssertionError(f"mjbot run did not stop within {stop_within_s} s:\n{text}") from None
            took = time.monotonic() - asked
            text = log_path.read_text(errors="replace")
            assert code == 0, text
            assert took < stop_within_s, (took, text)
            assert "mjbot stopped" in text and "Traceback" not in text, text  # the store and emulator closed first
            assert "voice will NOT be supported" not in text, text  # the bot has no voice: no warning about it
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


@pytest.mark.parametrize("scope", ["two guilds", "global", "off"])
async def test_mjbot_run_syncs_commands_where_configured(fake_discord: FakeDiscord, tmp_path: Path, scope: str) -> None:
    fake = fake_discord
    second = fake.add_guild("Second Server", owner=fake.owner)
    guild_ids = [fake.guild.id, second.id] if scope == "two guilds" else None
    config = write_config(tmp_path / "config.toml", fake, sync=scope != "off", guild_ids=guild_ids)

    async with mjbot_run(config, fake):
        # Commands are synced in setup_hook, before the gateway connection: everything is recorded by now.
        puts = fake.requests_matching("PUT", COMMANDS_PUT)
        app = fake.application.id
        if scope == "two guilds":
            assert sorted(r.path for r in puts) == sorted(
                f"/applications/{app}/guilds/{gid}/commands" for gid in (fake.guild.id, second.id)
            )
            for guild in (fake.guild, second):
                assert {c["name"] for c in fake.commands(guild)} >= EXPECTED_COMMANDS  # usable there at once
            assert fake.commands() == []
        elif scope == "global":
            assert [r.path for r in puts] == [f"/applications/{app}/commands"]
            assert {c["name"] for c in fake.commands()} >= EXPECTED_COMMANDS
            assert fake.commands(fake.guild) == [] and fake.commands(second) == []
        else:
            assert puts == []
            assert fake.requests_matching(None, COMMANDS_PUT) == []  # no upsert or delete either
            assert fake.commands() == [] and fake.commands(fake.guild) == []

        [identify] = fake.identifies
        intents = discord.Intents._from_value(int(identify["intents"]))
        assert intents == discord.Intents(guilds=True, guild_reactions=True, dm_reactions=True)
        assert not intents.message_content and not intents.members and not intents.presences
        assert identify["token"] == "run-token"
    assert fake.unknown_routes == []


def test_the_bot_asks_for_no_privileged_intent() -> None:
    intents = bot_intents()
    assert intents.value == discord.Intents(guilds=True, guild_reactions=True, dm_reactions=True).value
    assert not (intents.message_content or intents.members or intents.presences)


def test_discord_counts_as_unhealthy_before_it_connects_and_after_a_minute_away() -> None:
    now = [1000.0]
    watch = GatewayWatch(clock=lambda: now[0])
    assert watch.problem() == "not connected to Discord yet"
    watch.connected()
    assert watch.problem() is None
    watch.disconnected()
    now[0] += 59  # discord.py reconnects by itself; a short drop is no reason to restart the bot
    assert watch.problem() is None
    now[0] += 2
    assert watch.problem() == "disconnected from Discord for 61 s"
    watch.disconnected()  # a second drop does not restart the count
    assert watch.problem() == "disconnected from Discord for 61 s"
    watch.connected()  # resumed
    assert watch.problem() is None


async def test_mjbot_run_is_healthy_once_connected_and_mjbot_health_says_so(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_config(tmp_path / "config.toml", fake_discord, sync=False, guild_ids=None, listen_port=port)
    async with mjbot_run(config, fake_discord):
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the engine's first tick and the READY event land just after the connection
                async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    body = await answer.json()
                if answer.status == 200:
                    break
                await asyncio.sleep(0.05)
        assert answer.status == 200, body
        assert body["discord_connected"] is True and body["unhealthy"] == []
        check = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "health", "--config", str(config), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await check.communicate()
        assert check.returncode == 0, out


#: How soon ``mjbot run`` must be gone after SIGTERM, whatever it is doing (Docker kills it after 10 s).
STOP_BOUND_S = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def hang_the_api(http: aiohttp.ClientSession, emulator: str, path: str) -> None:
    """Arm the sandbox emulator so that the next request to ``path`` is answered only after a minute."""
    fault = {"path": path, "delay_s": 60.0}
    async with http.post(f"{emulator}/_emulator/faults", json=fault) as answer:
        assert answer.status == 200, await answer.text()


async def until_the_api_hangs(http: aiohttp.ClientSession, emulator: str) -> None:
    """Wait until a request has run into the armed fault (it is no longer armed)."""
    for _ in range(300):
        async with http.get(f"{emulator}/_emulator/state") as answer:
            if (await answer.json())["faults_armed"] == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("no request reached the hung API")


async def test_sigterm_during_discords_reconnect_wait_stops_at_once(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", fake_discord, sync=False, guild_ids=None)
    log_path = tmp_path / "mjbot.log"
    async with mjbot_run(config, fake_discord, stop_within_s=STOP_BOUND_S):
        await fake_discord.stop()  # Discord goes away: discord.py waits longer and longer between reconnects
        for _ in range(300):
            if "Attempting a reconnect for shard ID 0 in" in log_path.read_text(errors="replace"):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(log_path.read_text(errors="replace"))
        # The traceback discord.py logged about the lost connection is not ours to judge: count from here.
        log_path.write_bytes(b"")


async def test_sigterm_while_a_tick_waits_on_a_hung_api_stops_at_once(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    emulator = f"http://127.0.0.1:{free_port()}"
    port = int(emulator.rsplit(":", 1)[1])
    config = write_config(
        tmp_path / "config.toml", fake_discord, sync=True, guild_ids=[fake_discord.guild.id],
        emulator_port=port, job_duration_s=600,
    )  # fmt: skip
    async with mjbot_run(config, fake_discord, stop_within_s=STOP_BOUND_S), aiohttp.ClientSession() as http:
        handle = await fake_discord.slash("imagine", {"prompt": "a lighthouse at dusk"})
        await handle.wait_for_original(timeout=15)  # the job runs (for ten minutes): every tick asks about it
        await hang_the_api(http, emulator, "/midjourney/tasks")
        await until_the_api_hangs(http, emulator)


async def test_sigterm_while_a_submit_waits_on_a_hung_api_stops_at_once(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    emulator = f"http://127.0.0.1:{free_port()}"
    port = int(emulator.rsplit(":", 1)[1])
    config = write_config(
        tmp_path / "config.toml", fake_discord, sync=True, guild_ids=[fake_discord.guild.id], emulator_port=port
    )
    async with mjbot_run(config, fake_discord, stop_within_s=STOP_BOUND_S), aiohttp.ClientSession() as http:
        await hang_the_api(http, emulator, "/midjourney/imagine")
        await fake_discord.slash("imagine", {"prompt": "a lighthouse at dusk"})
        await until_the_api_hangs(http, emulator)
