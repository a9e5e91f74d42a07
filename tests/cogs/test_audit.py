"""The audit log: submits, cancels and refusals posted in the server's audit channel, without ever pinging anyone,
and a channel that is gone or closed costs one WARNING, never a job."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import pytest
from fakediscord import FakeChannel, FakeMessage, Permission
from fakediscord.payloads import channel_payload

from bot.settings import update_guild_settings
from bot.store import JobStatus

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)


async def new_channel(kit: Kit, name: str) -> FakeChannel:
    fake = kit.fake
    channel = fake.add_channel(fake.guild, name)
    await fake.dispatch("CHANNEL_CREATE", channel_payload(channel))
    await kit.until(lambda: kit.bot.get_channel(channel.id) is not None, what=f"channel {name}")
    return channel


async def use_audit_channel(kit: Kit, channel_id: int | None) -> None:
    """Point the server's audit log somewhere directly (``/admin`` would refuse a channel the bot can't use)."""
    await update_guild_settings(
        kit.store, kit.fake.guild.id, lambda s: dataclasses.replace(s, audit_channel=channel_id)
    )


def post_text(message: FakeMessage) -> str:
    [embed] = message.embeds
    fields = [f"{field['name']}: {field['value']}" for field in embed.get("fields") or []]
    footer = str((embed.get("footer") or {}).get("text"))
    return "\n".join([str(embed.get("title")), str(embed.get("description")), *fields, footer])


async def audit_post(kit: Kit, channel: FakeChannel, *needles: str) -> FakeMessage:
    def matches(message: FakeMessage) -> bool:
        return bool(message.embeds) and all(needle in post_text(message) for needle in needles)

    message = await kit.fake.wait_for_message(channel, matches)
    assert message.bodies[0]["allowed_mentions"] == {"parse": []}  # a post never pings anyone
    assert message.embeds[0].get("timestamp")
    return message


async def test_submit_and_cancel_are_posted_with_owner_job_prompt_and_cost(kit: Kit) -> None:
    fake = kit.fake
    audit = await new_channel(kit, "audit-log")
    await use_audit_channel(kit, audit.id)

    grid, _ = await kit.make_grid(user=fake.bob, prompt="a lighthouse @everyone")
    posted = post_text(await audit_post(kit, audit, "📨 Job submitted", f"`{grid.id}`"))
    assert f"Member: <@{fake.bob.id}>" in posted and "a lighthouse @\u200beveryone" in posted
    assert "Cost: 1 unit\n" in posted and "\nsubmit" in posted

    kit.emulator.settings.job_duration_s = 30.0
    video_handle = await fake.slash("video", {"prompt": "waves"}, attachments={"image": ("s.png", kit.PNG)})
    message = await kit.job_message(video_handle)
    video = await kit.wait_job(message, JobStatus.RUNNING)
    assert "Cost: 8 units" in post_text(await audit_post(kit, audit, "📨 Job submitted", f"`{video.id}`"))

    click = await fake.click(message, kit.button(message, "x"), user=fake.alice)
    assert "Cancelled job" in await kit.reply_text(click)
    posted = post_text(await audit_post(kit, audit, "🚫 Job cancelled", f"`{video.id}`"))
    assert "Cancelled by Alice" in posted and f"Member: <@{fake.alice.id}>" in posted


async def test_an_api_refusal_is_posted(kit: Kit) -> None:
    fake = kit.fake
    audit = await new_channel(kit, "audit-log")
    await use_audit_channel(kit, audit.id)
    handle = await fake.slash("imagine", {"prompt": f"a {kit.FORBIDDEN_WORD} thing"}, user=fake.bob)
    assert "moderation" in await kit.reply_text(handle)
    posted = post_text(await audit_post(kit, audit, "⛔ Refused", "(forbidden)"))
    assert f"Member: <@{fake.bob.id}>" in posted and "\nrefusal" in posted
    assert not any("Job submitted" in post_text(m) for m in fake.messages(audit))


async def test_post_for_other_cogs_and_nothing_without_a_channel(kit: Kit) -> None:
    fake = kit.fake
    audit = kit.audit
    assert await audit.post(fake.guild.id, "refusal", actor_id=fake.alice.id, text="not posted") is False
    assert await audit.post(None, "refusal", actor_id=fake.alice.id, text="a DM has no audit log") is False

    channel = await new_channel(kit, "audit-log")
    await use_audit_channel(kit, channel.id)
    text = f"Blocked member <@{fake.alice.id}> tried `/imagine` (<@&{fake.moderators_role.id}>)"
    assert await audit.post(fake.guild.id, "refusal", actor_id=fake.alice.id, job_id="abc123def", text=text)
    message = await audit_post(kit, channel, text, "Job: `abc123def`", f"Member: <@{fake.alice.id}>")
    assert message.get("mentions") == [] and message.get("mention_roles") == []


async def test_a_missing_or_closed_channel_warns_once_and_never_breaks_a_job(
    kit: Kit, caplog: pytest.LogCaptureFixture
) -> None:
    fake = kit.fake
    caplog.set_level(logging.WARNING, logger="cogs.audit")
    await use_audit_channel(kit, 424242424242424242)  # deleted long ago
    for prompt in ("one", "two"):
        job, _ = await kit.make_grid(user=fake.bob, prompt=prompt)
        assert job.status is JobStatus.SUCCEEDED
    await kit.settle()
    warnings = [r for r in caplog.records if r.name == "cogs.audit"]
    assert len(warnings) == 1 and "no longer exists" in warnings[0].getMessage()

    closed = await new_channel(kit, "closed")
    bot_role = fake.guild.role(fake.bot_user.username)
    fake.set_overwrite(closed, bot_role, deny=int(Permission.SEND_MESSAGES))
    await use_audit_channel(kit, closed.id)
    caplog.clear()
    for prompt in ("three", "four"):
        job, _ = await kit.make_grid(user=fake.bob, prompt=prompt)
        assert job.status is JobStatus.SUCCEEDED
    await kit.settle()
    warnings = [r for r in caplog.records if r.name == "cogs.audit"]
    assert len(warnings) == 1 and "does not let the bot post" in warnings[0].getMessage()
    assert fake.messages(closed) == []

    fake.set_overwrite(closed, bot_role, allow=int(Permission.SEND_MESSAGES))
    job, _ = await kit.make_grid(user=fake.bob, prompt="five")
    await audit_post(kit, closed, "📨 Job submitted", f"`{job.id}`")
