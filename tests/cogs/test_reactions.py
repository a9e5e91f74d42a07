"""Reactions on job messages, as in Midjourney: 1️⃣-4️⃣ extend a clip, 🔄 reroll, ❌ cancel or delete, ✉️ DM.

The new job's message is a reply in the channel; a refusal goes to the member's DMs, never to the channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fakediscord import FakeMessage

from bot.store import JobStatus

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

KEYCAPS = {1: "1️⃣", 2: "2️⃣", 3: "3️⃣", 4: "4️⃣"}


async def reply_to(kit: Kit, message: FakeMessage, *, after: int = 0) -> FakeMessage:
    """The bot's reply to ``message`` in its channel (the ``after``-th one, oldest first)."""

    def replies() -> list[FakeMessage]:
        return [
            m
            for m in kit.fake.messages(message.channel_id)
            if (m.get("message_reference") or {}).get("message_id") == str(message.id)
        ]

    found: list[FakeMessage] = await kit.until(lambda: len(replies()) > after and replies(), what="a reply")
    return found[after]


@pytest.mark.parametrize("clip", [1, 2, 3, 4])
async def test_a_number_extends_that_clip(kit: Kit, clip: int) -> None:
    fake = kit.fake
    video, message = await kit.make_video(user=fake.bob)
    await fake.react(message, emoji=KEYCAPS[clip], user=fake.bob)
    reply = await reply_to(kit, message)
    extend, reply = await kit.wait_done(reply)
    assert extend.parent_id == video.id and extend.meta.clip == clip
    body = kit.submits("videos")[-1]
    assert (body["action"], body["video_id"], body["video_index"]) == ("extend", video.video_id, clip - 1)
    assert reply["message_reference"]["message_id"] == str(message.id) and reply["mentions"] == []
    assert kit.button(reply, "ext", "1")


async def test_reroll_cancel_and_dm_by_reaction(kit: Kit) -> None:
    fake = kit.fake
    grid, message = await kit.make_grid(user=fake.bob)
    await fake.react(message, emoji="🔄", user=fake.bob)
    reply = await reply_to(kit, message)
    rerolled, reply = await kit.wait_done(reply)
    assert (kit.submits("imagine")[-1]["action"], rerolled.parent_id) == ("reroll", grid.id)

    await fake.react(message, emoji="✉️", user=fake.bob)
    dm = await fake.wait_for_dm(fake.bob)
    assert grid.id in str(dm.embeds[0])
    assert (await kit.job_of(dm)).id == grid.id  # the copy is linked to its job, like every job message
    await fake.react(dm, emoji="❌", user=fake.bob)  # in DMs, ❌ removes the copy, not the job's public message
    await kit.until(lambda: fake.message(dm.id).deleted, what="the DM copy to be deleted")
    assert not fake.message(message.id).deleted

    await fake.react(reply, emoji="❌", user=fake.bob)  # a finished result: deleted
    await kit.until(lambda: fake.message(reply.id).deleted, what="the rerolled grid to be deleted")
    assert await kit.links(rerolled.id) == []

    kit.emulator.settings.job_duration_s = 30.0
    handle = await fake.slash("imagine", {"prompt": "a slow moon"}, user=fake.bob)
    running = await kit.job_message(handle)
    await kit.wait_job(running, JobStatus.RUNNING)
    await fake.react(running, emoji="❌", user=fake.bob)  # a running job: cancelled, its message updated
    await kit.wait_job(running, JobStatus.CANCELLED)
    await kit.wait_rendered(running, lambda m: "🚫 Cancelled" in str(m.embeds[0].get("description")))
    assert not fake.message(running.id).deleted
    assert kit.task_count() == 3


async def test_someone_elses_reaction_does_nothing_but_explain_in_dms(kit: Kit) -> None:
    fake = kit.fake
    _, message = await kit.make_video(user=fake.bob)
    before = len(fake.messages(fake.general))
    await fake.react(message, emoji="🔄", user=fake.alice)
    dm = await fake.wait_for_dm(fake.alice)
    assert f"Only <@{fake.bob.id}>" in dm.content and dm["mentions"] == []
    await fake.react(message, emoji="❌", user=fake.alice)
    await fake.react(message, emoji="2️⃣", user=fake.alice)
    await kit.until(lambda: len(fake.dm_messages(fake.alice)) >= 3, what="an explanation per reaction")
    assert len(fake.messages(fake.general)) == before  # nothing in the channel
    assert not fake.message(message.id).deleted and kit.task_count() == 1
    assert message.reactions.get("🔄") == 1  # the reaction itself is left alone

    # The same refusal again within a minute is not repeated.
    await fake.unreact(message, emoji="🔄", user=fake.alice)
    await fake.react(message, emoji="🔄", user=fake.alice)
    await fake.react(message, emoji="✉️", user=fake.moderator)  # a moderator may: the DM proves the event order
    await fake.wait_for_dm(fake.moderator)
    assert len(fake.dm_messages(fake.alice)) == 3


async def test_a_closed_dm_is_no_problem(kit: Kit) -> None:
    fake = kit.fake
    fake.alice.dms_open = False
    _, message = await kit.make_grid(user=fake.bob)
    before = len(fake.messages(fake.general))
    await fake.react(message, emoji="🔄", user=fake.alice)
    await fake.wait_for_request("POST", r"/channels/\d+/messages", predicate=lambda r: r.status == 403)
    assert len(fake.messages(fake.general)) == before and kit.task_count() == 1


async def test_a_moderator_may_react_on_any_job(kit: Kit) -> None:
    fake = kit.fake
    video, message = await kit.make_video(user=fake.bob)
    await fake.react(message, emoji="3️⃣", user=fake.moderator)
    extend, _ = await kit.wait_done(await reply_to(kit, message))
    assert extend.user_id == fake.moderator.id and extend.parent_id == video.id


async def test_reactions_that_mean_nothing_are_left_alone(kit: Kit) -> None:
    fake = kit.fake
    _, grid_message = await kit.make_grid(user=fake.bob)
    await fake.react(grid_message, emoji="1️⃣", user=fake.bob)  # a vote on a grid, not an extend
    await fake.react(grid_message, emoji="👍", user=fake.bob)
    stranger = await fake.user_message(fake.general, "a message that shows no job", user=fake.bob)
    await fake.react(stranger, emoji="🔄", user=fake.bob)
    # The bot's own reaction is ignored too.
    await fake.react(grid_message, emoji="🔄", user=fake.bot_user)
    # A reaction that does act, to be sure the ones before it were handled (events arrive in order).
    await fake.react(grid_message, emoji="✉️", user=fake.bob)
    await fake.wait_for_dm(fake.bob)
    assert kit.task_count() == 1
    assert fake.dm_messages(fake.alice) == []
    assert len(fake.messages(fake.general)) == 2


async def test_a_reaction_acts_only_where_the_result_offers_it(kit: Kit) -> None:
    fake = kit.fake
    _, message = await kit.make_grid(user=fake.bob)
    _, upscale_message = await kit.follow(message, kit.button(message, "img", "upscale2"), user=fake.bob)
    upscale, upscale_message = await kit.wait_done(upscale_message)
    assert not [custom_id for custom_id in upscale_message.custom_ids if "rr" in custom_id.split(":")[1:2]]
    assert not [custom_id for custom_id in upscale_message.custom_ids if custom_id.endswith(":reroll")]
    await fake.react(upscale_message, emoji="🔄", user=fake.bob)  # no 🔄 button, so no new grid: the API offers none
    await fake.react(upscale_message, emoji="✉️", user=fake.bob)  # one that acts, to know the 🔄 was handled first
    dm = await fake.wait_for_dm(fake.bob)
    assert upscale.id in str(dm.embeds[0])  # the copy, and no word about the 🔄: a vote is left alone
    assert kit.task_count() == 2 and await kit.children(upscale) == []
    assert len(fake.dm_messages(fake.bob)) == 1
