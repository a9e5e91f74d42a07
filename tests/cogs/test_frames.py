"""Follow-ups a day later: links have expired, and the frames sent again must be links that work now."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
import pytest
from fakediscord import UploadedFile

from bot.frames import FrameSource
from bot.store import JobStatus

if TYPE_CHECKING:
    from discord_kit import Kit
    from fakediscord import FakeMessage

pytest_plugins = ("discord_kit",)

#: Past the life of every link handed out so far (Discord's and the API's: about a day).
A_DAY_LATER_S = 25 * 3600.0


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def fetching(kit: Kit) -> Kit:
    """The kit, with the emulator fetching each video's frames as the real API does."""
    kit.emulator.settings.fetch_images = True
    return kit


def a_day_later(kit: Kit) -> None:
    kit.fake.advance_clock(A_DAY_LATER_S)
    kit.emulator.advance_clock(A_DAY_LATER_S)


async def status_of(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as answer:
        await answer.read()
        return answer.status


async def uploaded_video(kit: Kit) -> tuple[str, FakeMessage]:
    """A finished /video from an uploaded start frame: its job id and message."""
    handle = await kit.fake.slash(
        "video", {"prompt": "a kite rises"}, attachments={"image": ("frame.png", kit.PNG)}, user=kit.fake.bob
    )
    job, message = await kit.wait_done(await kit.job_message(handle))
    return job.id, message


async def test_reroll_a_day_later_sends_a_start_frame_the_api_can_fetch(
    fetching: Kit, http: aiohttp.ClientSession
) -> None:
    kit = fetching
    job_id, message = await uploaded_video(kit)
    assert "start.png" in [attachment["filename"] for attachment in message.attachments]  # the bot's copy
    [first] = kit.submits("videos")

    a_day_later(kit)
    assert await status_of(http, first["image_url"]) == 404  # the upload is gone with its link
    _, new_message = await kit.follow(message, kit.button(message, "rr"), user=kit.fake.bob)
    again, _ = await kit.wait_done(new_message)

    second = kit.submits("videos")[-1]
    assert second["image_url"] != first["image_url"]
    assert kit.emulator.frame_fetches[-1].url == second["image_url"] and kit.emulator.frame_fetches[-1].ok
    assert again.parent_id == job_id
    assert again.meta.frames["image_url"] == FrameSource(second["image_url"], copy_on=job_id)

    a_day_later(kit)  # and again the next day, from the reroll
    _, third_message = await kit.follow(new_message, kit.button(new_message, "rr"), user=kit.fake.bob)
    await kit.wait_done(third_message)
    assert kit.emulator.frame_fetches[-1].ok and kit.task_count() == 3


async def test_animate_an_upscale_a_day_later_and_reroll_its_video_the_next(
    fetching: Kit, http: aiohttp.ClientSession
) -> None:
    kit = fetching
    bob = kit.fake.bob
    _, grid_message = await kit.make_grid(user=bob, prompt="a red fox")
    _, upscale_message = await kit.follow(grid_message, kit.button(grid_message, "img", "upscale1"), user=bob)
    upscale, upscale_message = await kit.wait_done(upscale_message)
    stored = upscale.raw_image_url or upscale.image_url
    assert stored is not None

    a_day_later(kit)
    assert await status_of(http, stored) == 403
    _, video_message = await kit.follow(upscale_message, kit.button(upscale_message, "anim", "low"), user=bob)
    video, video_message = await kit.wait_done(video_message)
    body = kit.submits("videos")[-1]
    assert body["image_url"] != stored and await status_of(http, body["image_url"]) == 200
    assert kit.emulator.frame_fetches[-1].ok
    assert video.meta.frames["image_url"].result_of == upscale.id

    a_day_later(kit)
    _, reroll_message = await kit.follow(video_message, kit.button(video_message, "rr"), user=bob)
    await kit.wait_done(reroll_message)
    assert kit.submits("videos")[-1]["image_url"] != body["image_url"] and kit.emulator.frame_fetches[-1].ok


async def test_reroll_the_video_of_an_animate_n_chain_a_day_later(fetching: Kit, http: aiohttp.ClientSession) -> None:
    kit = fetching
    _, message = await kit.make_grid(user=kit.fake.bob, video=True)
    _, chain_message = await kit.follow(message, kit.button(message, "animq", "2"), user=kit.fake.bob)

    async def chained() -> bool:
        job = await kit.store.links.job_for_message(chain_message.id)
        return job is not None and job.kind.value == "video" and job.status is JobStatus.SUCCEEDED

    await kit.until(chained, what="the video to take over the upscale's message")
    await kit.wait_rendered(chain_message, lambda m: any(cid.startswith("mj:rr:") for cid in m.custom_ids))
    first = kit.submits("videos")[-1]

    a_day_later(kit)
    assert await status_of(http, first["image_url"]) == 403
    _, reroll_message = await kit.follow(chain_message, kit.button(chain_message, "rr"), user=kit.fake.bob)
    await kit.wait_done(reroll_message)
    second = kit.submits("videos")[-1]
    assert second["image_url"] != first["image_url"] and kit.emulator.frame_fetches[-1].ok


async def test_a_frame_whose_copy_was_deleted_is_refused_before_anything_is_sent(fetching: Kit) -> None:
    kit = fetching
    job_id, message = await uploaded_video(kit)
    await kit.fake.delete_message(message)  # the member deleted the job's message, and the copy with it
    a_day_later(kit)
    show = await kit.fake.slash("show", {"job_id": job_id}, user=kit.fake.bob)
    repost = await kit.job_message(show)
    await kit.wait_rendered(repost, kit.done)
    tasks = kit.task_count()

    click = await kit.fake.click(repost, kit.button(repost, "rr"), user=kit.fake.bob)
    text = await kit.reply_text(click)
    assert "start frame of this job is no longer available" in text and "/video" in text
    assert kit.task_count() == tasks and len(kit.submits("videos")) == 1


async def test_show_a_day_later_reposts_media_that_plays(kit: Kit, http: aiohttp.ClientSession) -> None:
    video, _ = await kit.make_video(user=kit.fake.bob)
    a_day_later(kit)
    assert await status_of(http, video.video_urls[0]) == 403
    show = await kit.fake.slash("show", {"job_id": video.id}, user=kit.fake.bob)
    repost = await kit.wait_rendered(await kit.job_message(show), kit.done)
    clips = [a for a in repost.attachments if a["filename"].endswith(".mp4")]
    assert [clip["filename"] for clip in clips] == [f"clip{n}.mp4" for n in range(1, 5)]
    assert [await status_of(http, clip["url"]) for clip in clips] == [200] * 4
    renewed = await kit.store.jobs.get_job(video.id)
    assert renewed is not None and await status_of(http, renewed.video_urls[0]) == 200


async def test_reroll_a_day_later_refreshes_a_pasted_discord_link(fetching: Kit, http: aiohttp.ClientSession) -> None:
    kit = fetching
    fake = kit.fake
    posted = await fake.create_message(
        fake.general,
        {"content": "my frame"},
        [UploadedFile("files[0]", "f.png", "image/png", kit.PNG)],
        author=fake.bob,
    )
    pasted = posted.attachments[0]["url"]
    handle = await fake.slash("video", {"prompt": "a kite", "image_url": pasted}, user=fake.bob)
    _, message = await kit.wait_done(await kit.job_message(handle))
    assert "start.png" not in [attachment["filename"] for attachment in message.attachments]  # a link: no copy

    a_day_later(kit)
    assert await status_of(http, pasted) == 404
    _, new_message = await kit.follow(message, kit.button(message, "rr"), user=fake.bob)
    await kit.wait_done(new_message)
    refreshed = kit.submits("videos")[-1]["image_url"]
    assert refreshed != pasted and kit.emulator.frame_fetches[-1].ok
    assert any(request.path == "/attachments/refresh-urls" for request in fake.requests)
