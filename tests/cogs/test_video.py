"""/video: start and end frames as uploads or links, loop, mode, resolution, the grid path, and every refusal.

Each refusal is checked for what the member sees (an ephemeral message that says what to fix, nothing left in
the channel) and for what it costs (no task in the emulator).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from fakediscord import FakeMessage

from bot.settings import update_guild_settings
from bot.store import JobMeta, JobStatus, VideoOptions

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

HUGE = 26 * 1024 * 1024


async def test_video_command_has_the_documented_options(kit: Kit) -> None:
    command = kit.fake.command("video")
    options = {option["name"]: option for option in command["options"]}
    assert list(options) == [
        "prompt",
        "image",
        "image_url",
        "end_image",
        "end_image_url",
        "loop",
        "mode",
        "resolution",
        "preset",
    ]
    assert not any(option.get("required") for option in options.values())  # a preset may bring the prompt
    assert options["preset"]["autocomplete"] is True
    assert [c["value"] for c in options["mode"]["choices"]] == ["fast", "turbo"]
    assert [c["value"] for c in options["resolution"]["choices"]] == ["480p", "720p"]
    assert all(len(option["description"]) > 15 for option in options.values())


@pytest.mark.fake_discord(enforce_3s_ack=True)
async def test_video_from_an_uploaded_start_frame(kit: Kit) -> None:
    fake = kit.fake
    handle = await fake.slash(
        "video",
        {"prompt": "waves crash on the rocks --motion high --raw"},
        attachments={"image": ("frame.png", kit.PNG)},
        user=fake.bob,
    )
    assert await handle.wait_for_response() == 5  # thinking, in public
    assert handle.ack_delay is not None and handle.ack_delay < 1.0
    message = await kit.job_message(handle)
    job, message = await kit.wait_done(message)

    [body] = kit.submits("videos")
    [upload] = handle.data["resolved"]["attachments"].values()
    assert body["prompt"] == "waves crash on the rocks --motion high --raw"  # Midjourney parameters pass through
    assert body["image_url"] == upload["url"]
    assert (body["mode"], body["resolution"], body["loop"]) == ("fast", "720p", False)
    assert "end_image_url" not in body
    assert job.user_id == fake.bob.id and job.meta.video_options.to_json() == {
        "mode": "fast",
        "resolution": "720p",
        "loop": False,
    }
    assert not message.ephemeral
    assert [kit.button(message, "ext", str(n)) for n in range(1, 5)]
    assert "Sandbox" in message.embeds[0]["footer"]["text"]


async def test_video_from_links_with_an_end_frame_in_turbo_and_480p(kit: Kit) -> None:
    fake = kit.fake
    # Turbo, without its confirmation card (tests/cogs/test_confirm_card.py has the card).
    await update_guild_settings(kit.store, fake.guild.id, lambda s: s.with_limits(confirm_over=None))
    start = kit.fake.upload("start.png", kit.PNG)
    end = kit.fake.upload("end.png", kit.PNG)
    handle = await kit.fake.slash(
        "video",
        {
            "prompt": "the sun sets",
            "image_url": start.url,
            "end_image_url": end.url,
            "mode": "turbo",
            "resolution": "480p",
        },
    )
    message = await kit.job_message(handle)
    job, _ = await kit.wait_done(message)
    [body] = kit.submits("videos")
    assert (body["image_url"], body["end_image_url"]) == (start.url, end.url)
    assert (body["mode"], body["resolution"], body["loop"]) == ("turbo", "480p", False)
    assert job.meta.video_options.to_json() == {"mode": "turbo", "resolution": "480p", "loop": False}


async def test_video_loop(kit: Kit) -> None:
    start = kit.fake.upload("start.png", kit.PNG)
    handle = await kit.fake.slash("video", {"prompt": "a spinning top", "loop": True, "image_url": start.url})
    message = await kit.job_message(handle)
    job, _ = await kit.wait_done(message)
    assert kit.submits("videos")[-1]["loop"] is True
    assert job.meta.video_options.loop is True


async def test_video_without_a_start_frame_makes_a_grid_to_animate(kit: Kit) -> None:
    handle = await kit.fake.slash(
        "video",
        {"prompt": "a fox runs through snow --motion high --loop --ar 16:9", "resolution": "480p"},
        user=kit.fake.bob,
    )
    assert await handle.wait_for_response() == 5
    message = await kit.job_message(handle)
    job, message = await kit.wait_done(message)
    [body] = kit.submits("imagine")
    assert body["prompt"] == "a fox runs through snow --ar 16:9"  # video-only parameters wait for the video
    assert kit.submits("videos") == []
    assert job.meta == JobMeta(
        video_grid=True,
        video_options=VideoOptions(mode="fast", resolution="480p", loop=True, motion="high"),
        locale="en-US",  # the member's locale: the job's messages are worded in it
    )
    assert [kit.button(message, "animq", str(n)) for n in range(1, 5)]
    assert "Animate 1" in kit.labels(message)


def video_field(message: FakeMessage) -> str:
    """The "Video" field of a grid or upscale on its way to a video: what that video will be."""
    return next(str(f["value"]) for f in message.embeds[0].get("fields") or [] if f["name"] == "Video")


async def test_end_frame_and_clip_count_in_the_prompt_wait_for_the_animate_step(kit: Kit) -> None:
    fake = kit.fake
    end = fake.upload("last.png", kit.PNG)
    handle = await fake.slash(
        "video", {"prompt": f"a paper boat drifts --end {end.url} --bs 2 --ar 3:2 --motion low"}, user=fake.bob
    )
    assert await handle.wait_for_response() == 5
    grid, message = await kit.wait_done(await kit.job_message(handle))
    assert kit.submits("imagine")[-1]["prompt"] == "a paper boat drifts --ar 3:2"  # nothing of the video's
    options = grid.meta.video_options
    assert (options.end_image_url, options.batch_size, options.motion) == (end.url, 2, "low")
    assert video_field(message) == "720p · fast · low motion · own end frame · 2 clips"

    _, upscale_message = await kit.follow(message, kit.button(message, "img", "upscale2"), user=fake.bob)
    upscale, upscale_message = await kit.wait_done(upscale_message)
    assert "own end frame · 2 clips" in video_field(upscale_message)
    _, video_message = await kit.follow(upscale_message, kit.button(upscale_message, "anim", "high"), user=fake.bob)
    await kit.wait_done(video_message)
    body = kit.submits("videos")[-1]
    assert body["image_url"] == (upscale.raw_image_url or upscale.image_url)
    assert body["end_image_url"] == end.url and body["loop"] is False
    assert body["prompt"] == "a paper boat drifts --ar 3:2 --motion high --bs 2"

    # Animate N takes them along to the upscale that the video is made from.
    _, chain_message = await kit.follow(message, kit.button(message, "animq", "1"), user=fake.bob)
    chained = await kit.job_of(chain_message)
    assert chained.meta.then_animate.end_image_url == end.url and chained.meta.then_animate.batch_size == 2
    await kit.wait_rendered(chain_message, lambda m: "own end frame · 2 clips" in video_field(m))


async def test_an_end_frame_in_the_prompt_is_checked_like_the_end_image_url_option(kit: Kit) -> None:
    missing = f"{kit.fake.base_url}/attachments/1/gone.png"
    handle = await kit.fake.slash("video", {"prompt": f"a paper boat --end {missing}"}, user=kit.fake.bob)
    assert await handle.wait_for_response() == 5  # a link is checked after "thinking..."
    assert "`--end` could not be fetched: the server answered HTTP 404" in await kit.reply_text(handle)
    assert kit.public_messages(handle) == [] and kit.task_count() == 0


async def test_prompts_never_ping(kit: Kit) -> None:
    fake = kit.fake
    prompt = f"@everyone look at <@{fake.alice.id}> and <@&{fake.moderators_role.id}>"
    handle = await fake.slash("video", {"prompt": prompt}, user=fake.bob)
    message = await kit.job_message(handle)
    await kit.wait_done(message)
    assert message["mentions"] == [] and message["mention_roles"] == [] and message["mention_everyone"] is False
    assert all(body.get("allowed_mentions") == {"parse": []} for body in message.bodies if "allowed_mentions" in body)
    assert message.allowed_mentions == {"parse": []}


# -- refusals -------------------------------------------------------------------------------------------------------


def huge_png() -> bytes:
    """A PNG (by its signature) of 26 MB: one more than the bot takes."""
    return PNG_SIGNATURE + bytes(HUGE)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BAD_INPUTS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("blank prompt", {"prompt": "   "}, {}, "The prompt is empty"),
    ("long prompt", {"prompt": "x" * 2001}, {}, "the limit is 2,000"),
    ("ftp link", {"prompt": "p", "image_url": "ftp://example.com/a.png"}, {}, "`image_url` must be an http"),
    (
        "not a link",
        {"prompt": "p", "end_image_url": "picture.png", "image_url": "https://x.test/a.png"},
        {},
        "`end_image_url` must be",
    ),
    (
        "both starts",
        {"prompt": "p", "image_url": "https://x.test/a.png"},
        {"image": ("a.png", b"\x89PNG\r\n\x1a\n1")},
        "either `image`",
    ),
    (
        "both ends",
        {"prompt": "p", "end_image_url": "https://x.test/b.png"},
        {"image": ("a.png", b"\x89PNG\r\n\x1a\n1"), "end_image": ("b.png", b"\x89PNG\r\n\x1a\n2")},
        "either `end_image`",
    ),
    (
        "loop and end",
        {"prompt": "p", "loop": True, "image_url": "https://x.test/a.png", "end_image_url": "https://x.test/b.png"},
        {},
        "`loop` and an end frame",
    ),
    (
        "loop and end upload",
        {"prompt": "p", "loop": True},
        {"image": ("a.png", b"\x89PNG\r\n\x1a\n1"), "end_image": ("b.png", b"\x89PNG\r\n\x1a\n2")},
        "`loop` and an end frame",
    ),
    ("end without start", {"prompt": "p", "end_image_url": "https://x.test/b.png"}, {}, "needs a start frame"),
    ("--end without a link", {"prompt": "p --end --ar 1:1"}, {}, "`--end` needs a link"),
    ("--end not a link", {"prompt": "p --end last.png"}, {}, "`--end` must be an http"),
    ("--end twice", {"prompt": "p --end https://x.test/a.png --end https://x.test/b.png"}, {}, "Give `--end` once"),
    ("--end and loop", {"prompt": "p --end https://x.test/b.png", "loop": True}, {}, "`--loop` and `--end`"),
    ("--end and --loop", {"prompt": "p --loop --end https://x.test/b.png"}, {}, "`--loop` and `--end`"),
    ("--bs 3", {"prompt": "p --bs 3"}, {}, "1, 2 or 4, not 3"),
    (
        "text upload",
        {"prompt": "p"},
        {"image": ("notes.txt", b"hello", "text/plain")},
        "`image` is text/plain, not an image",
    ),
    ("huge upload", {"prompt": "p"}, {"image": ("huge.png", "HUGE")}, "the limit is 25 MB"),
]


@pytest.mark.parametrize(
    ("options", "uploads", "expected"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
async def test_bad_input_is_refused_at_once_and_costs_nothing(
    kit: Kit, options: dict[str, Any], uploads: dict[str, Any], expected: str
) -> None:
    files = {name: (value[0], huge_png()) if value[1] == "HUGE" else value for name, value in uploads.items()}
    handle = await kit.fake.slash("video", options, attachments=files or None)
    assert await handle.wait_for_response() == 4  # answered at once: nothing to wait for
    assert handle.ephemeral
    assert expected in await kit.reply_text(handle)
    assert kit.public_messages(handle) == []
    assert kit.task_count() == 0
    assert await kit.store.jobs.recent_jobs() == []


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("text", "`image_url` is text/plain, not an image"),
        ("huge", "`image_url` is 26.0 MB; the limit is 25 MB"),
        ("missing", "`image_url` could not be fetched: the server answered HTTP 404"),
        ("unknown host", "`image_url` could not be reached; check the link"),
    ],
)
async def test_a_bad_link_is_refused_after_the_acknowledgement(kit: Kit, link: str, expected: str) -> None:
    fake = kit.fake
    urls = {
        "text": fake.upload("notes.txt", b"not a picture", "text/plain").url,
        "huge": fake.upload("huge.png", huge_png()).url if link == "huge" else "",
        "missing": f"{fake.base_url}/attachments/1/gone.png",
        "unknown host": "http://no-such-host.invalid/frame.png",
    }
    handle = await fake.slash("video", {"prompt": "p", "image_url": urls[link]}, user=fake.bob)
    assert await handle.wait_for_response() == 5  # the link is checked after "thinking..."
    assert expected in await kit.reply_text(handle)
    assert kit.public_messages(handle) == []  # the thinking message is gone; only the member saw why
    assert kit.task_count() == 0


@pytest.mark.fake_discord(enforce_3s_ack=True)
async def test_the_link_check_waits_for_nothing_before_the_acknowledgement(kit: Kit) -> None:
    """A slow image host cannot make the bot miss Discord's 3 seconds: the check runs after the ack."""
    frame = kit.fake.upload("frame.png", kit.PNG)
    frame.hold = asyncio.Event()  # the CDN answers only once this is set
    try:
        handle = await kit.fake.slash("video", {"prompt": "p", "image_url": frame.url})
        assert await handle.wait_for_response() == 5
        assert kit.task_count() == 0  # nothing submitted while the link is being checked
        frame.hold.set()
        message = await kit.job_message(handle)
        job = await kit.wait_job(message, JobStatus.SUCCEEDED)
        assert job.params["image_url"] == frame.url
    finally:
        frame.hold.set()


async def test_a_sandbox_bot_lets_members_reach_only_its_own_emulator_inside_its_network(kit: Kit) -> None:
    """The sandbox serves its sample frames on loopback, so its emulator's origin is allowed; any other address
    inside the bot's network stays refused for members, and is not even asked (its answers would tell them
    what runs there)."""
    asked: list[str] = []

    async def inside(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(body=kit.PNG, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{path:.*}", inside)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    emulator_port = kit.emulator.url.rsplit(":", 1)[1]
    fake = kit.fake
    try:
        for url in (
            "http://10.0.0.1/x.png",
            f"http://127.0.0.1:{port}/x.png",
            f"http://2130706433:{port}/x.png",
            f"http://localhost:{emulator_port}/samples/a.png",  # the emulator's port, but not its origin
        ):
            handle = await fake.slash("video", {"prompt": "p", "image_url": url}, user=fake.bob)
            assert await handle.wait_for_response() == 5
            assert "`image_url` points into a private network" in await kit.reply_text(handle), url
            assert kit.public_messages(handle) == []
        assert asked == [] and kit.task_count() == 0
        sample = f"{kit.emulator.url}/samples/a.png"
        handle = await fake.slash("video", {"prompt": "p", "image_url": sample}, user=fake.bob)
        job = await kit.wait_job(await kit.job_message(handle), JobStatus.SUCCEEDED)
        assert job.params["image_url"] == sample
    finally:
        await runner.cleanup()
