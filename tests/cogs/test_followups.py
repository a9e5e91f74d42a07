"""Buttons on job messages: extend (auto and with the modal), reroll, cancel, image actions, animate, DM, who may
press them, double clicks, and buttons and jobs that outlive a restart of the bot."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from fakediscord import FakeMessage

from bot.settings import update_guild_settings
from bot.store import JobStatus
from cogs.policy import may_act

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)


def _button(custom_id: str) -> dict[str, Any]:
    return {"type": 2, "style": 2, "label": "⬅️", "custom_id": custom_id}


# -- extend ---------------------------------------------------------------------------------------------------------


async def test_extend_a_clip_keeps_the_prompt_and_the_video_options(kit: Kit) -> None:
    fake = kit.fake
    # Turbo, without its confirmation card (tests/cogs/test_confirm_card.py has the card).
    await update_guild_settings(kit.store, fake.guild.id, lambda s: s.with_limits(confirm_over=None))
    video, message = await kit.make_video(user=fake.bob, mode="turbo", resolution="480p")
    _, new_message = await kit.follow(message, kit.button(message, "ext", "2"), user=fake.bob)
    assert not new_message.ephemeral and new_message.id != message.id
    extend, new_message = await kit.wait_done(new_message)
    body = kit.submits("videos")[-1]
    assert body["action"] == "extend"
    assert (body["video_id"], body["video_index"], body["prompt"]) == (video.video_id, 1, video.prompt)
    assert (body["mode"], body["resolution"]) == ("turbo", "480p")
    assert extend.parent_id == video.id and extend.user_id == fake.bob.id
    assert extend.meta.clip == 2
    assert kit.button(new_message, "ext", "1")  # an extension can be extended again
    assert kit.task_count() == 2


async def test_extend_with_a_new_prompt_from_the_modal(kit: Kit) -> None:
    fake = kit.fake
    video, message = await kit.make_video(user=fake.bob)
    opener = await fake.click(message, kit.button(message, "extm"), user=fake.bob)
    assert await opener.wait_for_response() == 9
    modal = await opener.wait_for_modal()

    wrong = await fake.submit_modal(modal["custom_id"], {"prompt": "the kite dives", "clip": "7"}, user=fake.bob)
    assert "There is no clip 7" in await kit.reply_text(wrong)
    assert kit.task_count() == 1

    opener = await fake.click(message, kit.button(message, "extm"), user=fake.bob)
    modal = await opener.wait_for_modal()
    handle = await fake.submit_modal(modal["custom_id"], {"prompt": "the kite dives", "clip": "3"}, user=fake.bob)
    assert await handle.wait_for_response() == 5
    extend, _ = await kit.wait_done(await kit.job_message(handle))
    body = kit.submits("videos")[-1]
    assert (body["action"], body["video_index"], body["prompt"]) == ("extend", 2, "the kite dives")
    assert extend.prompt == "the kite dives" and extend.meta.clip == 3 and extend.parent_id == video.id


async def test_a_fifth_extension_is_refused(kit: Kit) -> None:
    fake = kit.fake
    _, message = await kit.make_video(user=fake.bob)
    for _ in range(4):
        _, message = await kit.follow(message, kit.button(message, "ext", "1"), user=fake.bob)
        await kit.wait_done(message)
    handle = await fake.click(message, kit.button(message, "ext", "1"), user=fake.bob)
    assert "extended 4 times" in await kit.reply_text(handle)
    manual = await fake.click(message, kit.button(message, "extm"), user=fake.bob)
    assert "extended 4 times" in await kit.reply_text(manual)  # said before a prompt is typed in vain
    assert manual.modal is None
    assert kit.task_count() == 5


# -- reroll ---------------------------------------------------------------------------------------------------------


async def test_reroll_a_video_sends_the_same_request_again(kit: Kit) -> None:
    fake = kit.fake
    video, message = await kit.make_video(user=fake.bob, prompt="a kite rises --motion low", loop=True)
    _, new_message = await kit.follow(message, kit.button(message, "rr"), user=fake.bob)
    again, _ = await kit.wait_done(new_message)
    first, second = kit.submits("videos")
    assert first == second
    assert again.parent_id == video.id and again.params == video.params


async def test_reroll_a_grid_asks_the_api_for_a_reroll(kit: Kit) -> None:
    grid, message = await kit.make_grid(user=kit.fake.bob)
    _, new_message = await kit.follow(message, kit.button(message, "img", "reroll"), user=kit.fake.bob)
    rerolled, new_message = await kit.wait_done(new_message)
    body = kit.submits("imagine")[-1]
    assert (body["action"], body["image_id"]) == ("reroll", grid.image_id)
    assert rerolled.parent_id == grid.id
    assert kit.button(new_message, "img", "upscale1")


async def test_reroll_a_failed_grid_submits_the_prompt_again(kit: Kit) -> None:
    kit.emulator.settings.failure_rate = 1.0
    handle = await kit.fake.slash("imagine", {"prompt": "a stormy sea"}, user=kit.fake.bob)
    message = await kit.job_message(handle)
    failed = await kit.wait_job(message, JobStatus.FAILED)
    await kit.wait_rendered(message, lambda m: any(cid.startswith("mj:rr:") for cid in m.custom_ids))
    kit.emulator.settings.failure_rate = 0.0
    _, new_message = await kit.follow(message, kit.button(message, "rr"), user=kit.fake.bob)
    await kit.wait_done(new_message)
    body = kit.submits("imagine")[-1]
    assert (body["action"], body["prompt"]) == ("generate", failed.prompt)


# -- cancel ---------------------------------------------------------------------------------------------------------


async def test_cancel_a_running_job(kit: Kit) -> None:
    kit.emulator.settings.job_duration_s = 30.0
    handle = await kit.fake.slash("imagine", {"prompt": "a slow sunrise"}, user=kit.fake.bob)
    message = await kit.job_message(handle)
    await kit.wait_job(message, JobStatus.RUNNING)
    await kit.wait_rendered(message, lambda m: any(cid.startswith("mj:x:") for cid in m.custom_ids))
    click = await kit.fake.click(message, kit.button(message, "x"), user=kit.fake.bob)
    assert await click.wait_for_response() == 5 and click.ephemeral
    assert "Cancelled job" in await kit.reply_text(click)
    job = await kit.wait_job(message, JobStatus.CANCELLED)
    assert job.error_message and "Cancelled by Bob" in job.error_message
    await kit.wait_rendered(message, lambda m: "🚫 Cancelled" in str(m.embeds[0].get("description")))
    assert kit.task_count() == 1


async def test_cancel_a_finished_job_deletes_its_result(kit: Kit) -> None:
    grid, message = await kit.make_grid(user=kit.fake.bob)
    click = await kit.fake.click(message, kit.button(message, "x"), user=kit.fake.bob)
    assert "Deleted the result" in await kit.reply_text(click)
    assert kit.fake.message(message.id).deleted
    assert await kit.links(grid.id) == []
    assert (await kit.store.jobs.get_job(grid.id)) is not None  # the job stays in the records (and in /jobs)


# -- image actions ---------------------------------------------------------------------------------------------------


async def test_upscale_then_vary(kit: Kit) -> None:
    fake = kit.fake
    grid, message = await kit.make_grid(user=fake.bob)
    _, upscale_message = await kit.follow(message, kit.button(message, "img", "upscale2"), user=fake.bob)
    upscale, upscale_message = await kit.wait_done(upscale_message)
    assert upscale.action == "upscale2" and upscale.parent_id == grid.id
    body = kit.submits("imagine")[-1]
    assert (body["action"], body["image_id"], body["mode"]) == ("upscale2", grid.image_id, "fast")
    assert {"Vary (Subtle)", "Zoom Out 2x", "Animate (Low motion)"} <= set(kit.labels(upscale_message))

    _, vary_message = await kit.follow(
        upscale_message, kit.button(upscale_message, "img", "variation_subtle"), user=fake.bob
    )
    assert kit.submits("imagine")[-1]["action"] == "variation_subtle"
    assert kit.submits("imagine")[-1]["image_id"] == upscale.image_id
    await kit.wait_done(vary_message)


async def test_an_action_the_image_does_not_offer_is_refused_for_free(kit: Kit) -> None:
    fake = kit.fake
    grid, message = await kit.make_grid(user=fake.bob)
    # A button the API does not offer on this image (a message from an older version, say): pan is only
    # offered on single images, never on a grid.
    custom_id = f"mj:img:{grid.id}:pan_left"
    message["components"] = [*message.components, {"type": 1, "components": [_button(custom_id)]}]
    handle = await fake.click(message, custom_id, user=fake.bob)
    assert "not offered on this image" in await kit.reply_text(handle)
    assert kit.task_count() == 1


# -- animate ---------------------------------------------------------------------------------------------------------


async def test_animate_an_upscaled_image_with_low_and_high_motion(kit: Kit) -> None:
    fake = kit.fake
    _, message = await kit.make_grid(user=fake.bob, prompt="a red fox --motion high")
    _, upscale_message = await kit.follow(message, kit.button(message, "img", "upscale1"), user=fake.bob)
    upscale, upscale_message = await kit.wait_done(upscale_message)
    for motion in ("low", "high"):
        _, video_message = await kit.follow(upscale_message, kit.button(upscale_message, "anim", motion), user=fake.bob)
        video, video_message = await kit.wait_done(video_message)
        body = kit.submits("videos")[-1]
        assert body["image_url"] == (upscale.raw_image_url or upscale.image_url)
        assert body["prompt"] == f"a red fox --motion {motion}"  # one --motion, the one asked for
        assert video.meta.motion == motion and video.parent_id == upscale.id
        assert kit.button(video_message, "ext", "4")


async def test_animate_an_image_of_a_video_grid_upscales_then_animates_on_the_same_message(kit: Kit) -> None:
    fake = kit.fake
    # Turbo, without its confirmation card (tests/cogs/test_confirm_card.py has the card).
    await update_guild_settings(kit.store, fake.guild.id, lambda s: s.with_limits(confirm_over=None))
    handle = await fake.slash(
        "video", {"prompt": "a paper boat --motion high", "resolution": "480p", "mode": "turbo"}, user=fake.bob
    )
    _, message = await kit.wait_done(await kit.job_message(handle))
    _, chain_message = await kit.follow(message, kit.button(message, "animq", "3"), user=fake.bob)
    upscale = await kit.job_of(chain_message)
    assert upscale.action == "upscale3" and upscale.meta.then_animate.resolution == "480p"

    async def video_on_message() -> bool:
        job = await kit.store.links.job_for_message(chain_message.id)
        return job is not None and job.kind.value == "video" and job.status is JobStatus.SUCCEEDED

    await kit.until(video_on_message, what="the video to take over the upscale's message")
    video = await kit.job_of(chain_message)
    upscale = await kit.wait_job(upscale.id)
    assert video.meta.chained_from == upscale.id
    body = kit.submits("videos")[-1]
    assert body["image_url"] == (upscale.raw_image_url or upscale.image_url)
    assert (body["mode"], body["resolution"]) == ("turbo", "480p")
    assert body["prompt"].endswith("--motion high")
    await kit.wait_rendered(chain_message, lambda m: any(cid.startswith("mj:ext:") for cid in m.custom_ids))
    assert kit.task_count() == 3  # grid, upscale, video


# -- DM ----------------------------------------------------------------------------------------------------------------


async def test_dm_a_result(kit: Kit) -> None:
    fake = kit.fake
    grid, message = await kit.make_grid(user=fake.bob)
    click = await fake.click(message, kit.button(message, "dm"), user=fake.bob)
    assert await click.wait_for_response() == 5 and click.ephemeral
    assert await kit.reply_text(click) == "Sent to your DMs."
    dm = await fake.wait_for_dm(fake.bob)
    assert grid.id in str(dm.embeds[0])

    fake.bob.dms_open = False
    click = await fake.click(message, kit.button(message, "dm"), user=fake.bob)
    assert "Your DMs are closed" in await kit.reply_text(click)
    assert len(fake.dm_messages(fake.bob)) == 1


# -- who may press ---------------------------------------------------------------------------------------------------


async def test_only_the_owner_or_a_moderator_may_press_the_buttons(kit: Kit) -> None:
    fake = kit.fake
    video, message = await kit.make_video(user=fake.bob)
    for kind, arg in (("ext", "1"), ("rr", None), ("x", None), ("dm", None)):
        refused = await fake.click(message, kit.button(message, kind, arg), user=fake.alice)
        text = await kit.reply_text(refused)
        assert f"Only <@{fake.bob.id}>" in text and "moderator" in text
        assert kit.public_messages(refused) == []
    assert kit.task_count() == 1 and not fake.message(message.id).deleted

    _, new_message = await kit.follow(message, kit.button(message, "ext", "1"), user=fake.moderator)
    extend, _ = await kit.wait_done(new_message)
    assert extend.user_id == fake.moderator.id and extend.parent_id == video.id


async def test_someone_else_cannot_extend_through_the_modal(kit: Kit) -> None:
    fake = kit.fake
    video, message = await kit.make_video(user=fake.bob)
    refused = await fake.click(message, kit.button(message, "extm"), user=fake.alice)
    assert await refused.wait_for_response() == 4 and refused.modal is None  # refused before the modal opens
    assert f"Only <@{fake.bob.id}>" in await kit.reply_text(refused)
    assert kit.public_messages(refused) == [] and kit.task_count() == 1

    moderator = await fake.click(message, kit.button(message, "extm"), user=fake.moderator)
    assert (await moderator.wait_for_modal())["custom_id"] == f"mj:extm:{video.id}:{fake.moderator.id}"

    await kit.store.jobs.delete_job(video.id)
    gone = await fake.click(message, kit.button(message, "extm"), user=fake.bob)
    assert "no longer in the bot's records" in await kit.reply_text(gone)
    assert gone.modal is None and kit.task_count() == 1


@pytest.mark.parametrize("policy", ["owner", "owner_and_mods", "an unknown value"])
async def test_server_policies_that_keep_buttons_to_the_owner(kit: Kit, policy: str) -> None:
    fake = kit.fake
    await kit.store.settings.save_guild_settings(fake.guild.id, {"button_policy": policy})
    grid, _ = await kit.make_grid(user=fake.bob)
    decision = await may_act(kit.store, grid, user_id=fake.alice.id, guild_id=fake.guild.id, can_manage_messages=False)
    assert not decision.allowed and decision.reason and f"<@{fake.bob.id}>" in decision.reason
    moderator = await may_act(
        kit.store, grid, user_id=fake.moderator.id, guild_id=fake.guild.id, can_manage_messages=True
    )
    assert moderator.allowed


async def test_a_server_may_let_everyone_press_the_buttons(kit: Kit) -> None:
    fake = kit.fake
    await kit.store.settings.save_guild_settings(fake.guild.id, {"button_policy": "everyone"})
    _, message = await kit.make_grid(user=fake.bob)
    _, new_message = await kit.follow(message, kit.button(message, "img", "upscale4"), user=fake.alice)
    upscale, _ = await kit.wait_done(new_message)
    assert upscale.user_id == fake.alice.id


async def test_a_double_click_submits_once(kit: Kit) -> None:
    fake = kit.fake
    _, message = await kit.make_video(user=fake.bob)
    custom_id = kit.button(message, "ext", "2")
    first, second = await asyncio.gather(
        fake.click(message, custom_id, user=fake.bob), fake.click(message, custom_id, user=fake.bob)
    )
    await first.wait_for_response()
    await second.wait_for_response()
    handles = sorted((first, second), key=lambda h: h.ephemeral)
    winner, repeat = handles
    new_message: FakeMessage = await kit.job_message(winner)
    text = await kit.reply_text(repeat)
    assert text.startswith("Already on it")
    assert f"/{new_message.channel_id}/{new_message.id})" in text
    await kit.wait_done(new_message)
    assert kit.task_count() == 2  # the video and one extension

    # Pressed again a moment later: still the same job, not a second one.
    again = await fake.click(message, custom_id, user=fake.bob)
    assert (await kit.reply_text(again)).startswith("Already on it")
    assert kit.task_count() == 2


async def test_a_button_of_a_forgotten_job(kit: Kit) -> None:
    grid, message = await kit.make_grid(user=kit.fake.bob)
    await kit.store.jobs.delete_job(grid.id)
    click = await kit.fake.click(message, kit.button(message, "img", "upscale1"), user=kit.fake.bob)
    assert "no longer in the bot's records" in await kit.reply_text(click)
    assert kit.task_count() == 1


# -- restarts --------------------------------------------------------------------------------------------------------


async def test_old_buttons_and_reactions_work_after_a_restart(kit: Kit) -> None:
    fake = kit.fake
    video, message = await kit.make_video(user=fake.bob)
    await kit.restart()
    _, new_message = await kit.follow(message, kit.button(message, "ext", "3"), user=fake.bob)
    extend, _ = await kit.wait_done(new_message)
    assert extend.parent_id == video.id and extend.params["video_index"] == 2

    await fake.react(message, emoji="🔄", user=fake.bob)
    reply = await fake.wait_for_message(
        fake.general, lambda m: (m.get("message_reference") or {}).get("message_id") == str(message.id)
    )
    rerolled, _ = await kit.wait_done(reply)
    assert rerolled.parent_id == video.id and rerolled.params == video.params


async def test_an_extend_modal_opened_before_a_restart_is_submitted_after_it(kit: Kit) -> None:
    fake = kit.fake
    video, message = await kit.make_video(user=fake.bob)

    # Before the restart the live modal takes the submission, and it runs once, not once more by the listener.
    opener = await fake.click(message, kit.button(message, "extm"), user=fake.bob)
    live = await fake.submit_modal(
        (await opener.wait_for_modal())["custom_id"], {"prompt": "the kite dives", "clip": "1"}
    )
    first, _ = await kit.wait_done(await kit.job_message(live))
    await kit.settle()
    assert live.rejected_acks == [] and [m for m in live.messages if m.ephemeral] == []
    assert kit.task_count() == 2 and [c.id for c in await kit.children(video)] == [first.id]

    opener = await fake.click(message, kit.button(message, "extm"), user=fake.bob)
    modal = await opener.wait_for_modal()
    assert modal["custom_id"] == f"mj:extm:{video.id}:{fake.bob.id}"
    await kit.restart()  # the new bot has no modal in memory

    handle = await fake.submit_modal(modal["custom_id"], {"prompt": "the kite loops the loop", "clip": "3"})
    assert await handle.wait_for_response() == 5
    extend, new_message = await kit.wait_done(await kit.job_message(handle))
    body = kit.submits("videos")[-1]
    assert (body["action"], body["video_id"], body["video_index"]) == ("extend", video.video_id, 2)
    assert body["prompt"] == "the kite loops the loop"
    assert extend.parent_id == video.id and extend.user_id == fake.bob.id and extend.meta.clip == 3
    assert not new_message.ephemeral and kit.button(new_message, "ext", "1")
    await kit.settle()
    assert handle.rejected_acks == [] and kit.task_count() == 3

    # The restored submission is checked like any other: a bad clip is refused for free.
    opener = await fake.click(message, kit.button(message, "extm"), user=fake.bob)
    modal = await opener.wait_for_modal()
    await kit.restart()
    bad = await fake.submit_modal(modal["custom_id"], {"prompt": "x", "clip": "9"})
    assert "There is no clip 9" in await kit.reply_text(bad)
    assert kit.public_messages(bad) == [] and kit.task_count() == 3


async def test_a_job_in_flight_during_a_restart_is_delivered_to_its_message(kit: Kit) -> None:
    kit.emulator.settings.job_duration_s = 1.5
    handle = await kit.fake.slash("imagine", {"prompt": "a lantern in the fog"}, user=kit.fake.bob)
    message = await kit.job_message(handle)
    await kit.wait_job(message, JobStatus.RUNNING)
    await kit.restart()
    job, message = await kit.wait_done(message)
    assert kit.button(message, "img", "upscale1")
    assert message.attachments and job.image_id


@pytest.mark.allow_discord_errors("showing its message failed")
async def test_a_job_sent_before_its_message_failed_is_still_shown_and_never_asks_to_pay_again(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cogs.delivery import cog as delivery_cog

    fake = kit.fake
    _, message = await kit.make_grid(user=fake.bob)
    real = delivery_cog.extras_for
    failures = [RuntimeError("a passing fault while the message was composed")]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    monkeypatch.setattr(delivery_cog, "extras_for", flaky)
    handle = await fake.click(message, kit.button(message, "img", "upscale2"), user=fake.bob)
    shown = await kit.job_message(handle)  # a message stands in, linked to the job
    assert "went wrong" not in str(shown.wire()).lower() and "try again" not in str(shown.wire()).lower()
    job = await kit.wait_job(shown, JobStatus.SUCCEEDED)
    await kit.wait_rendered(shown, lambda m: bool(m.embeds) and job.id in str(m.wire()))  # the next event renders it
    assert kit.task_count() == 2, "one grid and one upscale: nothing asked to be paid again"
