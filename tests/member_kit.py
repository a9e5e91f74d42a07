"""The Discord kit for the member side of server administration: a server to configure, and its audit log.

Use it with ``pytest_plugins = ("discord_kit", "member_kit")`` and the ``member`` fixture (import ``MemberKit``
under ``TYPE_CHECKING`` only, as with ``Kit``). Before the bot starts, the fake server gets an ``#art`` channel,
an ``#audit`` channel (the audit log's) and a ``Helpers`` role without permissions that ``alice`` holds::

    async def test_blocked(member: MemberKit) -> None:
        await member.configure(blocked={member.fake.bob.id: BlockEntry("spam")})
        handle = await member.fake.slash("imagine", {"prompt": "a fox"}, user=member.fake.bob)
        assert "spam" in await member.reply_text(handle)
"""

# ruff: noqa: ASYNC109 - the waiting helpers take a timeout like asyncio.wait_for, which reads best in tests

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from discord_kit import Kit, kit_config
from fakediscord import FakeChannel, FakeDiscord, FakeMessage, FakeRole, InteractionHandle

from bot.settings import GuildSettings, update_guild_settings


@dataclasses.dataclass(frozen=True)
class Places:
    art: FakeChannel
    audit: FakeChannel
    helpers: FakeRole


def prepare(fake: FakeDiscord) -> Places:
    """Channels and a role the tests use, made before the bot connects (so that its cache knows them)."""
    art = fake.add_channel(fake.guild, "art")
    audit = fake.add_channel(fake.guild, "audit")
    helpers = fake.add_role(fake.guild, "Helpers", 0)
    fake.guild.member(fake.alice).roles.append(helpers.id)
    return Places(art, audit, helpers)


class MemberKit(Kit):
    """The kit, with helpers for server settings and checks."""

    def __init__(self, fake: FakeDiscord, config: Any, places: Places) -> None:
        super().__init__(fake, config)
        self.places = places

    async def configure(self, **changes: Any) -> GuildSettings:
        """Change the test server's settings as /admin would (``limits=`` takes a dict of ``Limits`` fields)."""
        limits = changes.pop("limits", None)

        def change(settings: GuildSettings) -> GuildSettings:
            updated = dataclasses.replace(settings, **changes)
            if limits is not None:
                updated = dataclasses.replace(updated, limits=dataclasses.replace(settings.limits, **limits))
            return updated

        return await update_guild_settings(self.store, self.fake.guild.id, change)

    async def refusal(self, handle: InteractionHandle) -> str:
        """The ephemeral answer to an interaction, checked to have left nothing in public."""
        text = await self.reply_text(handle)
        assert self.public_messages(handle) == []
        return text

    def audit_posts(self) -> list[FakeMessage]:
        return self.fake.messages(self.places.audit)

    async def audited(self, *words: str, title: str = "Refused", timeout: float = 5.0) -> str:
        """The newest audit-log post with ``title`` once it names every one of ``words``."""

        def found() -> str | None:
            for post in reversed(self.audit_posts()):
                text = embed_text(post)
                if title in text and all(word in text for word in words):
                    return text
            return None

        text: str = await self.fake.wait_for(found, timeout=timeout, what=f"an audit post naming {words}")
        return text

    def slow_jobs(self, seconds: float = 30.0) -> None:
        """Make the emulator's new jobs take ``seconds`` (tests end them with ``finish``)."""
        settings = self.emulator.settings
        self.emulator.settings = dataclasses.replace(settings, job_duration_s=seconds, video_duration_s=seconds)

    def finish(self, task_id: str | None) -> None:
        """End a running emulator task now."""
        assert task_id is not None
        self.emulator.finish(task_id)


def embed_text(message: FakeMessage) -> str:
    """Everything a member reads in a message's embeds: title, description, fields and footer."""
    parts: list[str] = []
    for embed in message.embeds:
        parts.append(str(embed.get("title") or ""))
        parts.append(str(embed.get("description") or ""))
        for field in embed.get("fields") or []:
            parts.append(f"{field.get('name')}: {field.get('value')}")
        parts.append(str((embed.get("footer") or {}).get("text") or ""))
    return "\n".join(parts)


def footer(message: FakeMessage) -> str:
    return "\n".join(str((embed.get("footer") or {}).get("text") or "") for embed in message.embeds)


MemberFactory = Callable[..., AbstractAsyncContextManager[MemberKit]]


@pytest.fixture
def member_factory(fake_discord: FakeDiscord, tmp_path: Path) -> MemberFactory:
    """``async with member_factory(allow_dms=False) as kit``: a kit whose ``[discord]`` settings are changed
    (another section's with ``section="dms"``, say)."""
    places = prepare(fake_discord)

    @contextlib.asynccontextmanager
    async def started(*, section: str = "discord", **changes: Any) -> AsyncIterator[MemberKit]:
        config = kit_config(tmp_path, fake_discord)
        if changes:
            changed = dataclasses.replace(getattr(config, section), **changes)
            config = dataclasses.replace(config, **{section: changed})
        kit = MemberKit(fake_discord, config, places)
        await kit.start()
        try:
            await kit.configure(audit_channel=places.audit.id)
            yield kit
        finally:
            await kit.stop()
        assert fake_discord.unknown_routes == []

    return started


@pytest.fixture
async def member(member_factory: MemberFactory) -> AsyncIterator[MemberKit]:
    """The running bot, with /settings, the audit log on ``#audit`` and the fake server prepared."""
    async with member_factory() as kit:
        yield kit
