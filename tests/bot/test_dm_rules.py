"""Whose rules a job follows: a follow-up clicked in DMs on a server's job obeys that server and is charged to it;
jobs made in DMs have the operator's ``[dms]`` limits; copies of a job go only to its owner and the moderators of
its server."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.scopes import block_everywhere, unblock_everywhere
from bot.settings import BlockEntry, FilterRule, update_guild_settings
from bot.store import JobStatus

if TYPE_CHECKING:
    from fakediscord import FakeMessage, FakeUser
    from member_kit import MemberKit

pytest_plugins = ("discord_kit", "member_kit")

DmsKit = Callable[..., AbstractAsyncContextManager["MemberKit"]]


@pytest.fixture
def dms_kit(member_factory: DmsKit) -> DmsKit:
    """``async with dms_kit(jobs_per_day=2) as kit``: the member kit with some ``[dms]`` settings changed."""
    return functools.partial(member_factory, section="dms")


def description(message: FakeMessage) -> str:
    return "\n".join(str(embed.get("description") or "") for embed in message.embeds)


async def dm_copy(kit: MemberKit, message: FakeMessage, user: FakeUser) -> FakeMessage:
    """React ✉️ on a job's message and return the copy that arrives in ``user``'s DMs."""
    await kit.fake.react(message, emoji="✉️", user=user)
    copy = await kit.fake.wait_for_dm(user, lambda m: bool(m.embeds))
    await kit.job_of(copy)  # linked to its job in the store, so that reactions on it work
    return copy


async def dm_notice(kit: MemberKit, user: FakeUser, *words: str) -> str:
    """The text of the bot's DM to ``user`` that says all of ``words`` (a reaction's refusal)."""
    found = await kit.fake.wait_for_dm(user, lambda m: all(word in m.content for word in words))
    return found.content


async def dm_reply(kit: MemberKit, user: FakeUser, after: FakeMessage) -> FakeMessage:
    """A new job message the bot posts in ``user``'s DMs after ``after``."""
    dm = kit.fake.dm_channel(user)
    return await kit.fake.wait_for_message(dm, lambda m: m.id > after.id and bool(m.embeds))


# -- a follow-up clicked in DMs follows the rules of its job's server ----------------------------------------------


async def test_a_blocked_member_cannot_reroll_from_the_dm_copy(member: MemberKit) -> None:
    fake = member.fake
    grid, message = await member.make_grid(user=fake.bob)
    await member.configure(blocked={fake.bob.id: BlockEntry("spamming the API", by=fake.moderator.id, at=1.0)})
    copy = await dm_copy(member, message, fake.bob)  # a copy is no new job: it is still allowed

    await fake.react(copy, emoji="🔄", user=fake.bob)
    notice = await dm_notice(member, fake.bob, "blocked")
    assert "spamming the API" in notice and "this server" in notice
    await member.settle()
    assert member.task_count() == 1 and await member.children(grid) == []
    await member.audited("spamming the API", grid.id)  # the server's moderators see the attempt


async def test_the_servers_word_filter_turbo_rule_and_daily_limit_apply_in_dms(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(limits={"confirm_over": None})  # a turbo job runs without its confirmation card here
    start = fake.upload("start.png", member.PNG)
    handle = await fake.slash(
        "video", {"prompt": "a red fox runs", "image_url": start.url, "mode": "turbo"}, user=fake.bob
    )
    video, message = await member.wait_done(await member.job_message(handle))
    copy = await dm_copy(member, message, fake.bob)

    await member.configure(word_filter=(FilterRule("fox"),))
    await fake.react(copy, emoji="🔄", user=fake.bob)
    assert "word filter" in await dm_notice(member, fake.bob, "word filter")

    await member.configure(word_filter=(), limits={"allow_turbo": False})
    await fake.react(copy, emoji="2️⃣", user=fake.bob)
    assert "this server" in await dm_notice(member, fake.bob, "Turbo mode is turned off")

    # /show in DMs posts the job with live buttons; they follow the same rules.
    await member.configure(limits={"allow_turbo": True, "max_jobs_per_user_per_day": 1})
    shown = await member.job_message(await fake.slash("show", {"job_id": video.id}, user=fake.bob, dm=True))
    click = await fake.click(shown, member.button(shown, "rr"), user=fake.bob)
    assert "1 of your 1 jobs for today on this server" in await member.refusal(click)
    await member.settle()
    assert member.task_count() == 1 and await member.children(video) == []


async def test_a_follow_up_clicked_in_dms_is_charged_to_the_jobs_server(member: MemberKit) -> None:
    fake = member.fake
    await member.store.settings.save_user_settings(fake.bob.id, {"dm_on_done": True})
    grid, _ = await member.make_grid(user=fake.bob)
    copy = await fake.wait_for_dm(fake.bob, lambda m: bool(m.embeds))  # "DM me when done"
    await member.job_of(copy)
    await fake.react(copy, emoji="🔄", user=fake.bob)
    reroll, reply = await member.wait_done(await dm_reply(member, fake.bob, copy))
    assert reroll.parent_id == grid.id
    assert reroll.guild_id == fake.guild.id  # the server's job, though its message is in the DM
    assert reply.channel_id == fake.dm_channel(fake.bob).id
    usage = await member.store.usage.usage_since(0, guild_id=fake.guild.id, user_id=fake.bob.id)
    assert [entry.job_id for entry in usage] == [grid.id, reroll.id]
    assert await member.store.usage.usage_count(0, user_id=fake.bob.id, in_dms=True) == 0
    await member.settle()
    shown = [m for m in fake.dm_messages(fake.bob) if reroll.id in str(m.embeds)]
    assert shown == [reply]  # the job's own message is in the DM: no second copy for "DM me when done"


async def test_the_video_chained_from_an_upscale_clicked_in_dms_obeys_the_server(member: MemberKit) -> None:
    fake = member.fake
    grid, _ = await member.make_grid(user=fake.bob, video=True)  # /video without a start frame: Animate 1-4
    await member.configure(limits={"max_jobs_per_user_per_day": 2})
    shown = await fake.slash("show", {"job_id": grid.id}, user=fake.bob, dm=True)  # live buttons in the DM
    copy = await member.job_message(shown)
    _, upscale_message = await member.follow(copy, member.button(copy, "animq", "1"), user=fake.bob)
    upscale = await member.wait_job(upscale_message, JobStatus.SUCCEEDED)
    assert upscale.guild_id == fake.guild.id

    async def chained() -> Any:
        children = await member.children(upscale)
        return children[0] if children and children[0].status is JobStatus.FAILED else None

    video = await member.until(chained, what="the chained video to be refused")
    assert video.guild_id == fake.guild.id and video.error_code == "limit_reached"
    assert member.task_count() == 2  # the grid and the upscale: the server's limit of 2 held the video back


# -- /show and copies of a job ---------------------------------------------------------------------------------------


async def test_show_is_for_the_owner_and_the_servers_moderators(member: MemberKit) -> None:
    fake = member.fake
    grid, _ = await member.make_grid(user=fake.bob)
    carol = fake.add_user("carol")
    fake.add_member(fake.guild, carol)

    refused = await fake.slash("show", {"job_id": grid.id}, user=carol)
    assert "only show your own jobs" in await member.refusal(refused)
    refused_in_dms = await fake.slash("show", {"job_id": grid.id}, user=carol, dm=True)
    assert "only show your own jobs" in await member.refusal(refused_in_dms)

    own = await fake.slash("show", {"job_id": grid.id}, user=fake.bob)
    assert (await member.job_of(await member.job_message(own))).id == grid.id
    # alice holds the Helpers role, which the server names as a moderator role.
    helper = await fake.slash("show", {"job_id": grid.id}, user=fake.alice)
    assert "only show your own jobs" in await member.refusal(helper)
    await member.configure(moderator_roles=(member.places.helpers.id,))
    helper = await fake.slash("show", {"job_id": grid.id}, user=fake.alice)
    assert (await member.job_of(await member.job_message(helper))).id == grid.id


async def test_show_of_a_private_job_stays_private_for_a_moderator(member: MemberKit) -> None:
    fake = member.fake
    await member.store.settings.save_user_settings(fake.bob.id, {"private_results": True})
    handle = await fake.slash("imagine", {"prompt": "my private harbour"}, user=fake.bob)
    job, message = await member.wait_done(await handle.wait_for_original(lambda m: bool(m.embeds)))
    assert message.ephemeral
    show = await fake.slash("show", {"job_id": job.id}, user=fake.moderator)
    shown = await show.wait_for_original(lambda m: bool(m.embeds))
    assert shown.ephemeral, "a moderator's /show put a member's private result in the channel"
    assert job.id in str(shown.wire())
    assert fake.messages(fake.general, include_ephemeral=False) == []


async def test_show_refuses_a_member_blocked_everywhere_or_where_they_ask(member: MemberKit) -> None:
    fake = member.fake
    grid, _ = await member.make_grid(user=fake.bob)
    await block_everywhere(member.store, fake.bob.id, "abuse", at=1.0)
    refused = await fake.slash("show", {"job_id": grid.id}, user=fake.bob)
    assert "abuse" in await member.refusal(refused)
    await unblock_everywhere(member.store, fake.bob.id)
    await member.configure(blocked={fake.bob.id: BlockEntry("spam here", at=1.0)})
    refused = await fake.slash("show", {"job_id": grid.id}, user=fake.bob, dm=True)  # the job's server blocks him
    assert "spam here" in await member.refusal(refused)
    assert member.public_messages(refused) == []


async def test_a_dm_copy_is_for_the_owner_and_moderators_whatever_the_button_policy(member: MemberKit) -> None:
    fake = member.fake
    await member.configure(button_policy="everyone")  # everyone may press the buttons, but not take a copy
    video, message = await member.make_video(user=fake.bob)
    await fake.react(message, emoji="✉️", user=fake.alice)
    notice = await dm_notice(member, fake.alice, "copy")
    assert f"<@{fake.bob.id}>" in notice
    button = await fake.click(message, member.button(message, "dm"), user=fake.alice)
    assert "copy" in await member.refusal(button)
    assert [m for m in fake.dm_messages(fake.alice) if m.embeds] == []  # no copy of bob's video

    copy = await dm_copy(member, message, fake.moderator)  # Manage Messages
    assert video.id in str(copy.embeds)
    # In DMs the server cannot vouch for anyone: only the owner may use the job there.
    await fake.react(copy, emoji="🔄", user=fake.moderator)
    assert f"<@{fake.bob.id}>" in await dm_notice(member, fake.moderator, "outside its server")
    await member.settle()
    assert member.task_count() == 1


# -- jobs made in DMs: the operator's limits ------------------------------------------------------------------------


async def test_six_jobs_a_day_in_dms_is_one_too_many(member: MemberKit) -> None:
    fake = member.fake
    for number in range(5):
        handle = await fake.slash("imagine", {"prompt": f"harbour {number}"}, user=fake.bob, dm=True)
        await member.wait_done(await member.job_message(handle))
    sixth = await fake.slash("imagine", {"prompt": "harbour 6"}, user=fake.bob, dm=True)
    text = await member.refusal(sixth)
    assert "You can make 5 jobs a day in direct messages" in text and "00:00 UTC" in text
    assert member.task_count() == 5
    in_server = await fake.slash("imagine", {"prompt": "harbour 6"}, user=fake.bob)  # servers count apart
    await member.wait_done(await member.job_message(in_server))


async def test_a_second_job_in_dms_waits_for_the_first(member: MemberKit) -> None:
    fake = member.fake
    member.slow_jobs()
    first = await member.job_message(await fake.slash("imagine", {"prompt": "one"}, user=fake.bob, dm=True))
    running = await member.wait_job(first, JobStatus.RUNNING)
    second = await member.job_message(await fake.slash("imagine", {"prompt": "two"}, user=fake.bob, dm=True))
    await member.wait_rendered(second, lambda m: "Queued" in description(m))
    assert member.task_count() == 1

    member.finish(running.task_id)
    await member.wait_job(second, JobStatus.RUNNING)
    assert member.task_count() == 2


async def test_turbo_and_720p_are_refused_in_dms_by_default(member: MemberKit) -> None:
    fake = member.fake
    start = fake.upload("start.png", member.PNG)
    turbo = await fake.slash(
        "video",
        {"prompt": "a kite", "image_url": start.url, "mode": "turbo", "resolution": "480p"},
        user=fake.bob,
        dm=True,
    )
    assert "Turbo mode is turned off in direct messages" in await member.refusal(turbo)
    hd = await fake.slash(
        "video", {"prompt": "a kite", "image_url": start.url, "resolution": "720p"}, user=fake.bob, dm=True
    )
    assert "720p video is turned off in direct messages; choose resolution 480p" in await member.refusal(hd)
    assert member.task_count() == 0

    # Nothing chosen: the member's defaults (720p) step down to what DMs allow instead of being refused.
    ok = await fake.slash("video", {"prompt": "a kite", "image_url": start.url}, user=fake.bob, dm=True)
    video, _ = await member.wait_done(await member.job_message(ok))
    assert video.guild_id is None and video.params.get("resolution") == "480p" and video.params.get("mode") == "fast"


async def test_follow_ups_of_dm_jobs_count_against_the_dm_limits(dms_kit: DmsKit) -> None:
    async with dms_kit(jobs_per_day=2) as kit:
        fake = kit.fake
        handle = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=fake.bob, dm=True)
        _, message = await kit.wait_done(await kit.job_message(handle))
        await fake.react(message, fake.dm_channel(fake.bob), "🔄", user=fake.bob)
        reroll, _ = await kit.wait_done(await dm_reply(kit, fake.bob, message))
        assert reroll.guild_id is None

        reply = await dm_reply(kit, fake.bob, message)
        await fake.react(reply, fake.dm_channel(fake.bob), "🔄", user=fake.bob)  # a third job: over the limit
        assert "2 jobs a day in direct messages" in await dm_notice(kit, fake.bob, "direct messages", "used 2")
        await kit.settle()
        assert kit.task_count() == 2


async def test_dms_turned_off_with_the_dms_section(dms_kit: DmsKit) -> None:
    async with dms_kit(enabled=False) as kit:
        fake = kit.fake
        assert fake.command("imagine")["contexts"] == [0]
        handle = await fake.slash("imagine", {"prompt": "a quiet harbour"}, user=fake.bob, dm=True)
        assert "doesn't take commands in direct messages" in await kit.refusal(handle)
        assert kit.task_count() == 0


async def test_the_video_chained_in_dms_counts_against_the_dm_limits(dms_kit: DmsKit) -> None:
    async with dms_kit(jobs_per_day=2, allow_720p=True) as kit:
        fake = kit.fake
        handle = await fake.slash("video", {"prompt": "a kite"}, user=fake.bob, dm=True)  # a grid to animate
        grid, message = await kit.wait_done(await kit.job_message(handle))
        _, upscale_message = await kit.follow(message, kit.button(message, "animq", "2"), user=fake.bob)
        upscale = await kit.wait_job(upscale_message, JobStatus.SUCCEEDED)
        assert upscale.guild_id is None and upscale.parent_id == grid.id

        async def chained() -> Any:
            children = await kit.children(upscale)
            return children[0] if children and children[0].status is JobStatus.FAILED else None

        video = await kit.until(chained, what="the chained video to be refused")
        assert video.error_code == "limit_reached" and "direct messages" in (video.error_message or "")
        assert kit.task_count() == 2


@pytest.fixture
async def two_servers(fake_discord: Any, tmp_path: Path) -> AsyncIterator[tuple[MemberKit, Any]]:
    """The member kit, and a second server ("Other") where bob is a member too."""
    from discord_kit import kit_config
    from member_kit import MemberKit, prepare

    places = prepare(fake_discord)
    other = fake_discord.add_guild("Other", owner=fake_discord.owner, channels=("general", "bots"))
    fake_discord.add_member(other, fake_discord.bob)
    kit = MemberKit(fake_discord, kit_config(tmp_path, fake_discord), places)
    await kit.start()
    try:
        yield kit, other
    finally:
        await kit.stop()


async def test_a_job_shown_in_another_server_obeys_that_servers_blocks_and_channels(
    two_servers: tuple[MemberKit, Any],
) -> None:
    kit, other = two_servers
    fake = kit.fake
    grid, _ = await kit.make_grid(user=fake.bob)  # made in the first server
    bots, general = other.channel("bots"), other.channel("general")
    shown = await kit.job_message(await fake.slash("show", {"job_id": grid.id}, user=fake.bob, guild=other))
    before = kit.task_count()

    await update_guild_settings(kit.store, other.id, lambda s: dataclasses.replace(s, channels=(bots.id,)))
    click = await fake.click(shown, kit.button(shown, "img", "upscale1"), user=fake.bob)  # in #general
    assert f"<#{bots.id}>" in await kit.refusal(click)

    blocked = {fake.bob.id: BlockEntry("banned here", at=1.0)}
    await update_guild_settings(kit.store, other.id, lambda s: dataclasses.replace(s, channels=(), blocked=blocked))
    click = await fake.click(shown, kit.button(shown, "img", "upscale1"), user=fake.bob)
    assert "banned here" in await kit.refusal(click)
    assert kit.task_count() == before and shown.channel_id == general.id
