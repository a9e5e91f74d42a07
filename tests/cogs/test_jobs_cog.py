"""/jobs (a member's recent jobs, with Cancel for running ones) and /show (a past job re-posted with live buttons)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.store import JobStatus

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)


async def test_jobs_lists_recent_jobs_with_links_and_cancel_buttons(kit: Kit) -> None:
    fake = kit.fake
    grid, grid_message = await kit.make_grid(user=fake.bob, prompt="a **bold** fox")
    kit.emulator.settings.job_duration_s = 30.0
    handle = await fake.slash("imagine", {"prompt": "a slow tide"}, user=fake.bob)
    running = await kit.job_of(await kit.job_message(handle))
    await kit.wait_job(running, JobStatus.RUNNING)
    await fake.slash("imagine", {"prompt": "alice's own"}, user=fake.alice)

    listing = await fake.slash("jobs", user=fake.bob)
    assert await listing.wait_for_response() == 4 and listing.ephemeral
    message = await listing.wait_for_message()
    [embed] = message.embeds
    text = str(embed["description"])
    assert text.index(running.id) < text.index(grid.id)  # newest first
    assert "▶️ running" in text and "✅ done" in text and "alice's own" not in text
    assert f"https://discord.com/channels/{fake.guild.id}/{fake.general.id}/{grid_message.id}" in text
    assert r"a \*\*bold\*\* fox" in text  # the prompt as typed, not as markdown
    assert message.custom_ids == [f"mj:x:{running.id}"]

    click = await fake.click(message, f"mj:x:{running.id}", user=fake.bob)
    assert "Cancelled job" in await kit.reply_text(click)
    await kit.wait_job(running, JobStatus.CANCELLED)


async def test_jobs_when_there_are_none(kit: Kit) -> None:
    handle = await kit.fake.slash("jobs", user=kit.fake.alice)
    assert "You have no jobs yet" in await kit.reply_text(handle)


async def test_show_reposts_a_job_with_working_buttons_even_after_its_message_was_deleted(kit: Kit) -> None:
    fake = kit.fake
    grid, message = await kit.make_grid(user=fake.bob)
    click = await fake.click(message, kit.button(message, "x"), user=fake.bob)  # delete the result
    await kit.reply_text(click)
    assert fake.message(message.id).deleted

    listing = await fake.slash("jobs", user=fake.bob)
    assert "message deleted" in str((await listing.wait_for_message()).embeds[0]["description"])

    handle = await fake.slash("show", {"job_id": f" `{grid.id}` "}, user=fake.bob)
    assert await handle.wait_for_response() == 5 and not handle.ephemeral
    shown = await kit.job_message(handle)
    await kit.wait_rendered(shown, kit.done)
    assert (await kit.job_of(shown)).id == grid.id
    assert shown.attachments
    _, upscale_message = await kit.follow(shown, kit.button(shown, "img", "upscale3"), user=fake.bob)
    upscale, _ = await kit.wait_done(upscale_message)
    assert upscale.parent_id == grid.id


async def test_show_is_for_the_owner_and_moderators(kit: Kit) -> None:
    fake = kit.fake
    grid, _ = await kit.make_grid(user=fake.bob)
    refused = await fake.slash("show", {"job_id": grid.id}, user=fake.alice)
    assert "You can only show your own jobs" in await kit.reply_text(refused)
    assert kit.public_messages(refused) == []

    handle = await fake.slash("show", {"job_id": grid.id}, user=fake.moderator)
    shown = await kit.job_message(handle)
    assert (await kit.job_of(shown)).id == grid.id

    for wrong, expected in (("zzzzzzzzzz", "There is no job `zzzzzzzzzz`"), ("<@123>", "That is not a job id")):
        answer = await fake.slash("show", {"job_id": wrong}, user=fake.bob)
        assert expected in await kit.reply_text(answer)
