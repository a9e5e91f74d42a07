"""The bot installed to a member's account (Discord's user install): its commands in a server without the bot and in
a group DM, answered through the interaction alone; such use counts as use in direct messages; a result whose
interaction token ends before the job does reaches the member in their DMs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import pytest

from bot.settings import BlockEntry, load_user_settings
from bot.store import JobStatus

if TYPE_CHECKING:
    from fakediscord import FakeChannel, FakeMessage
    from member_kit import MemberKit

pytest_plugins = ("discord_kit", "member_kit")

MEMBER_COMMANDS = ("video", "imagine", "jobs", "show", "history", "settings")

DmsKit = Callable[..., AbstractAsyncContextManager["MemberKit"]]


@pytest.fixture
def dms_kit(member_factory: DmsKit) -> DmsKit:
    """``async with dms_kit(jobs_per_day=1) as kit``: the member kit with some ``[dms]`` settings changed."""
    return functools.partial(member_factory, section="dms")


def elsewhere(kit: MemberKit) -> FakeChannel:
    """A channel of a server alice and bob are in, which never added the bot."""
    fake = kit.fake
    guild = fake.add_guild("Elsewhere", owner=fake.owner, with_bot=False)
    fake.add_member(guild, fake.alice)
    fake.add_member(guild, fake.bob)
    return guild.text_channels()[0]


def description(message: FakeMessage) -> str:
    return "\n".join(str(embed.get("description") or "") for embed in message.embeds)


def channel_calls(kit: MemberKit, channel: FakeChannel) -> list[str]:
    """The bot's own REST calls on a channel (not through an interaction's token)."""
    return [f"{r.method} {r.path}" for r in kit.fake.requests if r.path.startswith(f"/channels/{channel.id}")]


# -- where the commands are offered ------------------------------------------------------------------------------


async def test_member_commands_are_offered_through_a_user_install_and_admin_is_not(member: MemberKit) -> None:
    fake = member.fake
    for name in MEMBER_COMMANDS:
        command = fake.command(name)
        assert command["integration_types"] == [0, 1], name
        assert command["contexts"] == [0, 1, 2], name
    admin = fake.command("admin")
    assert admin["integration_types"] == [0] and admin["contexts"] == [0]
    with pytest.raises(ValueError, match=r"does not offer /admin through a user install"):
        await fake.slash("admin", user=fake.alice, channel=elsewhere(member), subcommand="settings", install="user")


async def test_with_dms_off_nothing_is_offered_through_a_user_install(dms_kit: DmsKit) -> None:
    async with dms_kit(enabled=False) as kit:
        fake = kit.fake
        for name in (*MEMBER_COMMANDS, "admin"):
            assert fake.command(name)["integration_types"] == [0], name
        with pytest.raises(ValueError, match=r"does not offer /imagine through a user install"):
            await fake.slash("imagine", {"prompt": "a fox"}, channel=elsewhere(kit), install="user")


# -- a server without the bot --------------------------------------------------------------------------------------


async def test_imagine_in_a_server_without_the_bot_shows_its_result_in_the_interaction(member: MemberKit) -> None:
    fake = member.fake
    channel = elsewhere(member)
    handle = await fake.slash("imagine", {"prompt": "a quiet harbour"}, channel=channel, install="user")
    message = await member.job_message(handle)
    job, message = await member.wait_done(message)
    assert message.channel_id == channel.id and "U1" in member.labels(message)
    assert job.guild_id is None, "the job belongs to no server: its use counts as DMs"
    [link] = await member.links(job.id)
    assert link.purpose == "response" and link.guild_id == channel.guild_id
    await member.settle()
    assert channel_calls(member, channel) == [], "the bot never tries the server's channel itself"


async def test_such_use_counts_against_the_dm_limits(dms_kit: DmsKit) -> None:
    async with dms_kit(jobs_per_day=1) as kit:
        fake = kit.fake
        channel = elsewhere(kit)
        await kit.wait_done(await kit.job_message(await fake.slash("imagine", {"prompt": "a"})))
        # The first job was in the test server, which has no limits: the DM allowance is whole.
        first = await fake.slash("imagine", {"prompt": "a fox"}, channel=channel, install="user")
        await kit.wait_done(await kit.job_message(first))

        second = await fake.slash("imagine", {"prompt": "a wolf"}, channel=channel, install="user")
        text = await kit.refusal(second)
        assert "You can make 1 jobs a day in direct messages, and you have used 1" in text
        assert "the bot installed to your account count as jobs in direct messages" in text
        in_dms = await fake.slash("imagine", {"prompt": "a bear"}, dm=True)
        assert "You can make 1 jobs a day in direct messages" in await kit.refusal(in_dms), "one allowance for both"
        assert len(kit.submits("imagine")) == 2


async def test_in_a_server_with_the_bot_its_rules_apply_whichever_install(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(blocked={fake.bob.id: BlockEntry("spam")})
    handle = await fake.slash("imagine", {"prompt": "a fox"}, user=fake.bob, install="user")
    assert "spam" in await member.refusal(handle)
    allowed = await fake.slash("imagine", {"prompt": "a fox"}, user=fake.alice, install="user")
    job, message = await member.wait_done(await member.job_message(allowed))
    assert job.guild_id == fake.guild.id and message.channel_id == fake.general.id
    [link] = await member.links(job.id)
    assert link.purpose == "job", "the bot is in the channel: it may edit the message there too"


async def test_settings_through_a_user_install_speak_of_the_dm_limits(member: MemberKit) -> None:
    fake = member.fake
    channel = elsewhere(member)
    handle = await fake.slash("settings", {"loop": True}, channel=channel, install="user")
    panel = await handle.wait_for_message(lambda m: m.ephemeral and bool(m.embeds))
    text = str(panel.embeds)
    assert "Loop: **on**" in text
    assert "here your jobs count as jobs in direct messages" in text and "This server sets no limits" not in text
    click = await fake.click(panel, "mjset:loop:off", user=fake.alice)
    assert await click.wait_for_response() == 7
    assert "Loop: **off**" in str(panel.embeds)
    assert (await load_user_settings(member.store, fake.alice.id)).loop is False


async def test_jobs_and_history_through_a_user_install_answer_the_member_alone(member: MemberKit) -> None:
    fake = member.fake
    channel = elsewhere(member)
    handle = await fake.slash("imagine", {"prompt": "a snow owl"}, channel=channel, install="user")
    job, _ = await member.wait_done(await member.job_message(handle))
    jobs = await fake.slash("jobs", channel=channel, install="user")
    assert job.id in str((await jobs.wait_for_message(lambda m: m.ephemeral)).embeds)
    history = await fake.slash("history", {"text": "owl"}, channel=channel, install="user")
    page = await history.wait_for_message(lambda m: m.ephemeral)
    assert "Your job history" in str(page.embeds) and job.id in str(page.embeds)


async def test_a_click_on_u1_there_makes_the_upscale_through_the_click(member: MemberKit) -> None:
    fake = member.fake
    channel = elsewhere(member)
    handle = await fake.slash("imagine", {"prompt": "a red fox"}, channel=channel, install="user")
    grid, message = await member.wait_done(await member.job_message(handle))

    click, upscale = await member.follow(message, member.button(message, "img", "upscale1"), user=fake.alice)
    assert click.owners == {"1": str(fake.alice.id)} and upscale.channel_id == channel.id
    job, upscale = await member.wait_done(upscale)
    assert job.parent_id == grid.id and job.guild_id is None
    assert [link.purpose for link in await member.links(job.id)] == ["response"]

    other = await fake.click(message, member.button(message, "img", "upscale2"), user=fake.bob)
    text = await member.reply_text(other)
    assert f"Only <@{fake.alice.id}>, who started this job, can use its buttons" in text
    await member.settle()
    assert len(member.submits()) == 2 and channel_calls(member, channel) == []


async def test_a_group_dm_works_through_a_user_install(member: MemberKit) -> None:
    fake = member.fake
    group = fake.add_group_dm(fake.alice, fake.bob, name="friends")
    handle = await fake.slash("imagine", {"prompt": "two friends"}, channel=group, install="user")
    job, message = await member.wait_done(await member.job_message(handle))
    assert message.channel_id == group.id and job.guild_id is None
    assert [link.purpose for link in await member.links(job.id)] == ["response"]


# -- a token that ends before the job ------------------------------------------------------------------------------


async def test_a_long_job_whose_token_ends_comes_to_the_members_dms(member: MemberKit) -> None:
    fake = member.fake
    channel = elsewhere(member)
    member.slow_jobs()
    start = fake.upload("start.png", member.PNG)
    handle = await fake.slash(
        "video", {"prompt": "a kite", "image_url": start.url}, user=fake.bob, channel=channel, install="user"
    )
    message = await handle.wait_for_original(lambda m: bool(m.embeds))
    job = await member.wait_job(message, JobStatus.RUNNING)
    await member.wait_rendered(message, lambda m: "15 minutes only" in description(m))

    fake.expire_token(handle)  # 15 minutes later: Discord refuses the token
    member.finish(job.task_id)
    copy = await fake.wait_for_dm(fake.bob, lambda m: bool(m.attachments))
    assert "ran through the bot installed to your account" in description(copy)
    assert [a["filename"] for a in copy.attachments] == ["clip1.mp4", "clip2.mp4", "clip3.mp4", "clip4.mp4"]
    await member.delivery.sweep(startup=True)  # a later sweep does not send it again
    await member.settle()
    assert len(fake.dm_messages(fake.bob)) == 1
    assert channel_calls(member, channel) == [] and "✅" not in description(message)


async def test_dm_me_when_done_works_for_jobs_through_a_user_install(member: MemberKit) -> None:
    fake = member.fake
    await member.store.settings.save_user_settings(fake.bob.id, {"dm_on_done": True})
    handle = await fake.slash("imagine", {"prompt": "a lark"}, user=fake.bob, channel=elsewhere(member), install="user")
    await member.wait_done(await member.job_message(handle))
    copy = await fake.wait_for_dm(fake.bob, lambda m: bool(m.embeds))
    assert "You asked to get your finished jobs here" in description(copy)
