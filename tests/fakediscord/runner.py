"""Running a real discord.py bot against the fake for the length of a test."""

# ruff: noqa: ASYNC109 - the helper takes a timeout like asyncio.wait_for, which reads best in tests

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import discord

from .server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)

#: Any string works: the fake accepts every token unless it was built with ``required_token``.
DEFAULT_TOKEN = "fake-token"

#: Above this, ``on_ready`` waits long enough to slow a suite down noticeably.
MAX_GUILD_READY_TIMEOUT = 0.5


@contextlib.asynccontextmanager
async def running_bot(
    bot: ClientT, fake: FakeDiscord, *, token: str = DEFAULT_TOKEN, timeout: float = 5.0
) -> AsyncIterator[ClientT]:
    """Start ``bot.start(token)`` as a task, wait for ``on_ready``, yield the bot, then close it.

    If the bot dies before it is ready (a payload it could not parse, a failed login, an exception in
    ``setup_hook``), its exception is raised here instead of a bare timeout. Build test bots with
    ``guild_ready_timeout=0.05``; discord.py's default of 2 s would delay every ``on_ready``.
    """
    ready_timeout = getattr(getattr(bot, "_connection", None), "guild_ready_timeout", 0.0)
    if ready_timeout > MAX_GUILD_READY_TIMEOUT:
        raise ValueError(f"build the bot with guild_ready_timeout=0.05 (it has {ready_timeout}s)")
    if fake.port == 0:
        raise RuntimeError("start the fake first (use the fake_discord fixture or `async with FakeDiscord()`)")
    gateway = str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY).rstrip("/")
    if discord.http.Route.BASE.rstrip("/") != fake.api_base or gateway != fake.gateway_url:
        # Never let a test bot reach the real Discord.
        raise RuntimeError(
            f"discord.py points at {discord.http.Route.BASE} and {gateway}, not the fake; "
            "call fake.patch_discord_py() or point_discord_at(fake.api_base, fake.gateway_url)"
        )
    async with bot:
        task = asyncio.create_task(bot.start(token), name=f"{type(bot).__name__}.start")
        ready = asyncio.create_task(bot.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if task.done():
                error = task.exception()
                raise RuntimeError(f"the bot stopped before it was ready: {error!r}") from error
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            unknown = f"; unknown routes: {fake.unknown_routes}" if fake.unknown_routes else ""
            raise TimeoutError(
                f"the bot was not ready after {timeout:g}s{unknown}\nlatest requests:\n{fake.recorder.summary()}"
            )
        try:
            yield bot
        finally:
            await bot.close()
            try:
                await asyncio.wait_for(task, timeout=timeout)
            except TimeoutError:
                task.cancel()
            # The server sees the close a moment later; wait, so the next step finds the session ended.
            await fake.wait_for(lambda: not fake.gateway.connections, timeout=timeout, what="the bot to disconnect")
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise RuntimeError("the bot's connection loop failed during the test") from task.exception()
