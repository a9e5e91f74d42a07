"""The Discord kit for the member side of server administration: /settings loaded, a server to configure.

Use it with ``pytest_plugins = ("discord_kit", "member_kit")`` and the ``member`` fixture. Before the bot starts,
the fake server gets an ``#art`` channel, an ``#audit`` channel (the audit log's) and a ``Helpers`` role without
permissions that ``alice`` holds, so the allow list, the audit log and moderator roles can be tried::

    async def test_blocked(member: Kit) -> None:
        await configure(member, blocked={member.fake.bob.id: BlockEntry("spam")})
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fakediscord import FakeChannel, FakeDiscord, FakeMessage, FakeRole

from bot.settings import GuildSettings, update_guild_settings

if TYPE_CHECKING:
    from discord_kit import Kit

#: Cogs the member side needs beyond the bot's default extensions (loaded only if the default lacks them).
MEMBER_EXTENSIONS = ("cogs.settings",)


@dataclasses.dataclass
class Places:
    art: FakeChannel
    audit: FakeChannel
    helpers: FakeRole


def prepare(fake: FakeDiscord) -> Places:
    """Channels and a role the tests use, made before the bot connects (so its cache knows them)."""
    art = fake.add_channel(fake.guild, "art")
    audit = fake.add_channel(fake.guild, "audit")
    helpers = fake.add_role(fake.guild, "Helpers", 0)
    fake.guild.member(fake.alice).roles.append(helpers.id)
    return Places(art, audit, helpers)


async def load_member_cogs(kit: Kit) -> None:
    """Load the member-side cogs the default extensions do not, and register their commands."""
    missing = [name for name in MEMBER_EXTENSIONS if name not in kit.bot.extensions]
    for name in missing:
        await kit.bot.load_extension(name)
    if missing:
        await kit.bot.tree.sync()


async def restart(kit: Kit) -> None:
    """Stop the bot and start a new one on the same store, as a process restart would."""
    await kit.restart()
    await load_member_cogs(kit)


@contextlib.asynccontextmanager
async def running_kit(fake: FakeDiscord, tmp_path: Path, **discord: Any) -> AsyncIterator[Kit]:
    """A started kit; ``discord`` changes the ``[discord]`` settings (``allow_dms=False``)."""
    from discord_kit import Kit, kit_config

    config = kit_config(tmp_path, fake)
    if discord:
        config = dataclasses.replace(config, discord=dataclasses.replace(config.discord, **discord))
    kit = Kit(fake, config)
    await kit.start()
    try:
        await load_member_cogs(kit)
        yield kit
    finally:
        await kit.stop()
    assert fake.unknown_routes == []


@pytest.fixture
def places(fake_discord: FakeDiscord) -> Places:
    return prepare(fake_discord)


@pytest.fixture
async def member(fake_discord: FakeDiscord, places: Places, tmp_path: Path) -> AsyncIterator[Kit]:
    """The running bot, with /settings, the audit log on ``#audit`` and the fake server prepared."""
    async with running_kit(fake_discord, tmp_path) as kit:
        await configure(kit, audit_channel=places.audit.id)
        yield kit


async def configure(kit: Kit, **changes: Any) -> GuildSettings:
    """Change the test server's settings as /admin would (``limits=`` takes a dict of Limits fields)."""
    limits = changes.pop("limits", None)

    def change(settings: GuildSettings) -> GuildSettings:
        updated = dataclasses.replace(settings, **changes)
        if limits is not None:
            updated = dataclasses.replace(updated, limits=dataclasses.replace(settings.limits, **limits))
        return updated

    return await update_guild_settings(kit.store, kit.fake.guild.id, change)


def audit_posts(kit: Kit, places: Places) -> list[FakeMessage]:
    """The audit log's posts, oldest first."""
    return kit.fake.messages(places.audit)


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


def slow_jobs(kit: Kit, seconds: float = 30.0) -> None:
    """Make the emulator's jobs take ``seconds`` (tests end them with ``finish_task``)."""
    kit.emulator.settings = dataclasses.replace(kit.emulator.settings, job_duration_s=seconds, video_duration_s=seconds)


def finish_task(kit: Kit, task_id: str | None) -> None:
    assert task_id is not None
    kit.emulator.finish(task_id)


def tomorrow() -> float:
    """Unix time one day from now: past the next 00:00 UTC."""
    return time.time() + 86_400
