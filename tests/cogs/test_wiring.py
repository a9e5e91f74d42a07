"""The cogs are built with the services they use: the order in which they are added makes no difference, a cog
brings the shared parts it needs along, and a name no cog has is refused with the list of names."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from fakediscord import FakeChannel, FakeDiscord

from bot.settings import update_guild_settings
from bot.store import JobStatus
from cogs import wiring

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

SHUFFLED = tuple(random.Random(7).sample(wiring.COGS, len(wiring.COGS)))
REVERSED = tuple(reversed(wiring.COGS))
#: The cog each name makes.
COG_NAMES = {
    "delivery": "Delivery",
    "audit": "AuditLog",
    "followups": "FollowUps",
    "confirmations": "Confirmations",
    "video": "VideoCog",
    "imagine": "ImagineCog",
    "jobs": "JobsCog",
    "reactions": "ReactionsCog",
    "gallery": "GalleryCog",
    "settings": "SettingsCog",
    "admin": "AdminCog",
}


@pytest.fixture
async def kit_with(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Any]:
    """Start a kit whose bot runs the given cogs in the given order; stopped after the test."""
    from discord_kit import Kit, kit_config

    started: list[Kit] = []

    async def start(cogs: Sequence[str]) -> Kit:
        kit = Kit(fake_discord, kit_config(tmp_path, fake_discord), cogs=cogs)
        await kit.start()
        started.append(kit)
        return kit

    yield start
    for kit in started:
        await kit.stop()
    assert fake_discord.unknown_routes == []


async def with_audit_channel(kit: Kit) -> FakeChannel:
    """An audit channel the server's settings point to (made before the bot's cache is asked about it)."""
    fake = kit.fake
    channel = fake.add_channel(fake.guild, "audit-log")
    await update_guild_settings(kit.store, fake.guild.id, lambda s: dataclasses.replace(s, audit_channel=channel.id))
    return channel


def audit_titles(fake: FakeDiscord, channel: FakeChannel) -> list[str]:
    return [str(m.embeds[0].get("title")) for m in fake.messages(channel) if m.embeds]


async def refused_video_is_audited(kit: Kit, channel: FakeChannel) -> None:
    fake = kit.fake
    handle = await fake.slash("video", {"prompt": "a meadow", "image_url": fake.upload("f.png", kit.PNG).url})
    await kit.fake.wait_for_message(channel, lambda m: "Job submitted" in str(m.embeds))
    refused = await fake.slash("video", {"prompt": f"a {kit.FORBIDDEN_WORD} thing"}, user=fake.bob)
    assert "moderation" in await kit.reply_text(refused)
    await kit.fake.wait_for_message(channel, lambda m: "Refused" in str(m.embeds))
    await kit.wait_done(await kit.job_message(handle))


@pytest.mark.parametrize("order", [REVERSED, SHUFFLED], ids=["reversed", "shuffled"])
async def test_the_cogs_work_in_whatever_order_they_are_added(kit_with: Any, order: tuple[str, ...]) -> None:
    kit: Kit = await kit_with(order)
    assert list(kit.bot.cogs) == [COG_NAMES[name] for name in order]
    fake = kit.fake
    audit = await with_audit_channel(kit)

    video, message = await kit.make_video(user=fake.bob)
    handle, extended = await kit.follow(message, kit.button(message, "ext", "1"), user=fake.bob)
    child = await kit.wait_job(extended)
    assert child.parent_id == video.id and child.status is JobStatus.SUCCEEDED
    assert not handle.messages[0].ephemeral  # the click's public placeholder became the new job's message

    await refused_video_is_audited(kit, audit)
    assert "⛔ Refused" in audit_titles(fake, audit) and "📨 Job submitted" in audit_titles(fake, audit)


async def test_a_cog_brings_the_shared_parts_it_uses(kit_with: Any) -> None:
    kit: Kit = await kit_with(("video",))
    assert sorted(type(cog).__name__ for cog in kit.bot.cogs.values()) == [
        "AuditLog",
        "Confirmations",
        "Delivery",
        "VideoCog",
    ]
    audit = await with_audit_channel(kit)
    await refused_video_is_audited(kit, audit)


async def test_a_name_no_cog_has_is_refused_with_the_names() -> None:
    with pytest.raises(ValueError, match="no cog is called 'vidoe'; the cogs are delivery, audit, followups, video"):
        wiring.build(cast(Any, None), ["vidoe"])
