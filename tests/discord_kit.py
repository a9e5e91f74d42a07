"""The whole bot for Discord tests: the real MJBot, its real engine and store, the sandbox emulator, FakeDiscord.

Use it from a test module with ``pytest_plugins = ("discord_kit",)`` and the ``kit`` fixture (import ``Kit`` for
annotations only, under ``TYPE_CHECKING``, so that pytest can still rewrite the asserts in this module)::

    async def test_imagine(kit: Kit) -> None:
        handle = await kit.fake.slash("imagine", {"prompt": "a lighthouse"}, user=kit.fake.bob)
        message = await kit.job_message(handle)                    # the job's message, once it is linked
        job = await kit.wait_job(message, JobStatus.SUCCEEDED)     # ... and the job behind it, when done
        await kit.wait_rendered(message, lambda m: "U1" in kit.labels(m))

``kit.make_video()``, ``kit.make_grid()`` and ``kit.follow(message, custom_id)`` make finished jobs and follow-ups;
``kit.submits()`` is what the API was asked for and ``kit.task_count()`` what it accepted (what would cost credits).
Jobs are fast (``JOB_S`` seconds in the emulator, polled every ``POLL_S``). ``kit.restart()`` stops the bot and
starts a new one on the same store and emulator state, as a real restart would. Before the bot stops, the handlers
under way are let finish; then the fixture fails the test if the bot called a Discord route the fake does not know.
"""

# ruff: noqa: ASYNC109 - the waiting helpers take a timeout like asyncio.wait_for, which reads best in tests

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from discord.ext import commands
from fakediscord import FakeDiscord, FakeMessage, FakeUser, InteractionHandle, running_bot

from bot.acedata.emulator import Emulator
from bot.bot import MJBot
from bot.config import (
    AceDataSettings,
    CallbackSettings,
    Config,
    DiscordSettings,
    EmulatorConfig,
    JobsSettings,
    StoreSettings,
)
from bot.store import Job, JobStatus, Store
from bot.store.models import MessageLink
from cogs.audit import AuditLog
from cogs.delivery import Delivery

#: How long an emulated job takes, and how often the engine polls.
JOB_S = 0.15
POLL_S = 0.1
#: The shortest gap between two edits of one job message.
EDIT_INTERVAL_S = 0.05
#: A tiny real PNG (signature + enough bytes) for start and end frames.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
#: The word the emulator's moderation refuses.
FORBIDDEN_WORD = "forbidden"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def kit_config(tmp_path: Path, fake: FakeDiscord) -> Config:
    """A sandbox configuration: SQLite in ``tmp_path``, fast polls, commands synced, and the emulator on a port
    of its own that a restarted bot takes again (results link to media there, as with the real sandbox)."""
    return Config(
        discord=DiscordSettings(
            token="fake-token", api_base=fake.api_base, gateway_url=fake.gateway_url, sync_commands=True
        ),
        acedata=AceDataSettings(base_url="emulator"),
        jobs=JobsSettings(poll_interval_s=POLL_S, job_timeout_s=60.0),
        callback=CallbackSettings(enabled=False, listen_port=0),
        store=StoreSettings(path=str(tmp_path / "mjbot.sqlite3")),
        emulator=EmulatorConfig(
            job_duration_s=JOB_S, video_duration_s=JOB_S, moderation_words=(FORBIDDEN_WORD,), listen_port=free_port()
        ),
    )


C = TypeVar("C", bound=commands.Cog)


def cog_of(bot: commands.Bot, cog_type: type[C]) -> C:
    """The bot's cog of ``cog_type`` (tests look cogs up; the cogs themselves are handed what they use)."""
    cog = bot.get_cog(cog_type.__cog_name__)
    assert isinstance(cog, cog_type), f"the {cog_type.__name__} cog is not loaded"
    return cog


class KitBot(MJBot):
    """The real bot, with job messages edited as often as a test needs (Discord's pacing is for rate limits)."""

    async def setup_hook(self) -> None:
        await super().setup_hook()
        cog_of(self, Delivery).edit_interval_s = EDIT_INTERVAL_S


class Kit:
    """A running bot and the fake it talks to, with helpers that wait for what a member would see."""

    PNG = PNG
    FORBIDDEN_WORD = FORBIDDEN_WORD

    def __init__(self, fake: FakeDiscord, config: Config, *, cogs: Sequence[str] | None = None) -> None:
        self.fake = fake
        self.config = config
        #: The cogs the bot runs, in the order they are added (None: the bot's default).
        self.cogs = cogs
        self._stack: contextlib.AsyncExitStack | None = None
        self._bot: MJBot | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> MJBot:
        stack = contextlib.AsyncExitStack()
        bot = KitBot(self.config, cogs=self.cogs, guild_ready_timeout=0.05)
        self._bot = await stack.enter_async_context(running_bot(bot, self.fake))
        self._stack = stack
        return bot

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await self.settle()
            await stack.aclose()

    async def settle(self, timeout: float = 5.0) -> None:
        """Let the event handlers under way finish (a test's last check may come before their last store write)."""
        current = asyncio.current_task()
        handlers = {
            task
            for task in asyncio.all_tasks()
            if task is not current
            and task.get_name().startswith(("discord.py: ", "discord-ui-", "CommandTree-invoker"))
        }
        if handlers:
            await asyncio.wait(handlers, timeout=timeout)
        delivery = self._bot.get_cog("Delivery") if self._bot is not None else None
        if isinstance(delivery, Delivery):
            await asyncio.wait_for(delivery.idle(), timeout)

    async def restart(self) -> MJBot:
        """Stop this bot (as a process exit would) and start a new one on the same store."""
        await self.stop()
        return await self.start()

    @property
    def bot(self) -> MJBot:
        if self._bot is None:
            raise RuntimeError("the bot is not running")
        return self._bot

    @property
    def delivery(self) -> Delivery:
        return cog_of(self.bot, Delivery)

    @property
    def audit(self) -> AuditLog:
        return cog_of(self.bot, AuditLog)

    @property
    def store(self) -> Store:
        return self.bot.services.store

    @property
    def emulator(self) -> Emulator:
        emulator = self.bot.services.emulator
        assert emulator is not None, "the kit runs the bot in sandbox mode"
        return emulator

    def task_count(self) -> int:
        """Tasks the emulator accepted: what would have cost credits."""
        return self.emulator.task_count

    def submits(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Bodies of the generation requests the emulator received (``imagine`` or ``videos``), oldest first."""
        paths = (f"/midjourney/{endpoint}",) if endpoint else ("/midjourney/imagine", "/midjourney/videos")
        return [dict(r.body) for r in self.emulator.requests if r.path in paths and isinstance(r.body, dict)]

    # -- making jobs ----------------------------------------------------------------------------------------

    async def make_video(
        self, *, user: FakeUser | None = None, prompt: str = "a kite rises in the wind", **options: Any
    ) -> tuple[Job, FakeMessage]:
        """A finished /video from a start frame (a link to a PNG the fake serves), and its message."""
        start = self.fake.upload("start.png", PNG)
        handle = await self.fake.slash("video", {"prompt": prompt, "image_url": start.url, **options}, user=user)
        return await self.wait_done(await self.job_message(handle))

    async def make_grid(
        self, *, user: FakeUser | None = None, prompt: str = "a red fox in the snow", video: bool = False
    ) -> tuple[Job, FakeMessage]:
        """A finished image grid (/imagine, or /video without a start frame when ``video``) and its message."""
        handle = await self.fake.slash("video" if video else "imagine", {"prompt": prompt}, user=user)
        return await self.wait_done(await self.job_message(handle))

    async def follow(
        self, message: FakeMessage, custom_id: str, *, user: FakeUser | None = None
    ) -> tuple[InteractionHandle, FakeMessage]:
        """Click a job button that starts a new job; the click's response becomes the new job's message."""
        handle = await self.fake.click(message, custom_id, user=user)
        assert await handle.wait_for_response() == 5, handle.rejected_acks
        return handle, await self.job_message(handle)

    # -- waiting --------------------------------------------------------------------------------------------

    async def until(self, check: Callable[[], Any], *, timeout: float = 5.0, what: str = "a condition") -> Any:
        """Wait for a check on the bot's side (store, emulator) that may need awaiting."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}\n{self.fake.recorder.summary()}")
            await asyncio.sleep(0.02)

    async def job_message(self, handle: InteractionHandle, *, timeout: float = 5.0) -> FakeMessage:
        """The public message an interaction turned into a job's message (linked in the store)."""

        async def linked() -> FakeMessage | None:
            original = handle.original
            if original is None or original.ephemeral or original.loading:
                return None
            return original if await self.store.links.job_for_message(original.id) is not None else None

        found: FakeMessage = await self.until(linked, timeout=timeout, what=f"a job message from {handle}")
        return found

    async def job_of(self, message: FakeMessage | int, *, timeout: float = 5.0) -> Job:
        """The job a message shows (waiting for the bot to link it, as it does right after posting it)."""
        message_id = message if isinstance(message, int) else message.id
        job: Job = await self.until(
            lambda: self.store.links.job_for_message(message_id),
            timeout=timeout,
            what=f"message {message_id} to show a job",
        )
        return job

    async def wait_job(
        self, job: Job | FakeMessage | str, status: JobStatus = JobStatus.SUCCEEDED, *, timeout: float = 5.0
    ) -> Job:
        """The job (by id, Job or its message) once it reaches ``status``."""
        job_id = job.id if isinstance(job, Job) else job if isinstance(job, str) else (await self.job_of(job)).id

        async def reached() -> Job | None:
            current = await self.store.jobs.get_job(job_id)
            return current if current is not None and current.status is status else None

        found: Job = await self.until(reached, timeout=timeout, what=f"job {job_id} to be {status}")
        return found

    async def wait_rendered(
        self, message: FakeMessage, predicate: Callable[[FakeMessage], bool], *, timeout: float = 5.0
    ) -> FakeMessage:
        """The message once ``predicate`` holds for its current version (edits included)."""
        return await self.fake.wait_for(
            lambda: message if predicate(message) else None,
            timeout=timeout,
            what=lambda: f"message {message.id} to change; now {message.wire()}",
        )

    async def wait_done(self, message: FakeMessage, *, timeout: float = 5.0) -> tuple[Job, FakeMessage]:
        """A job's message once its job succeeded and the message shows buttons for the result."""
        job = await self.wait_job(message, JobStatus.SUCCEEDED, timeout=timeout)
        await self.wait_rendered(message, done, timeout=timeout)
        return job, message

    async def links(self, job_id: str) -> list[MessageLink]:
        return await self.store.links.messages_for_job(job_id)

    async def children(self, job: Job) -> list[Job]:
        return await self.store.jobs.children(job.id)

    async def reply_text(self, handle: InteractionHandle, *, timeout: float = 5.0) -> str:
        """The text of the ephemeral answer to an interaction (response or follow-up)."""
        message = await handle.wait_for_message(lambda m: m.ephemeral and not m.loading, timeout=timeout)
        return message.content

    @staticmethod
    def public_messages(handle: InteractionHandle) -> list[FakeMessage]:
        """What an interaction left in the channel for everyone to see (deleted messages left out)."""
        return [m for m in handle.messages if not m.ephemeral]

    @staticmethod
    def done(message: FakeMessage) -> bool:
        return done(message)

    @staticmethod
    def labels(message: FakeMessage) -> list[str]:
        """The buttons' labels (or emoji when they have none), in order."""
        found: list[str] = []
        for custom_id in message.custom_ids:
            component = message.component(custom_id) or {}
            emoji = (component.get("emoji") or {}).get("name") or ""
            found.append(str(component.get("label") or emoji))
        return found

    @staticmethod
    def button(message: FakeMessage, kind: str, arg: str | None = None) -> str:
        """The custom id of the ``mj:{kind}:{job}[:{arg}]`` button on a message."""
        for custom_id in message.custom_ids:
            parts = custom_id.split(":")
            if parts[:2] == ["mj", kind] and (arg is None or parts[3:] == [arg]):
                return custom_id
        raise AssertionError(f"no {kind}:{arg} button on message {message.id}: {message.custom_ids}")


def done(message: FakeMessage) -> bool:
    """True when a job message shows a finished result: no Cancel-only view, a ✅ in its embed."""
    return any("✅" in str(embed.get("description") or "") for embed in message.embeds)


@pytest.fixture
async def kit(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Kit]:
    """A started bot in sandbox mode against ``fake_discord``; asserts no unknown Discord route was called."""
    kit = Kit(fake_discord, kit_config(tmp_path, fake_discord))
    await kit.start()
    try:
        yield kit
    finally:
        await kit.stop()
    assert fake_discord.unknown_routes == []
