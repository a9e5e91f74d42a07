"""Delivery against the loopback Discord and the sandbox emulator: the messages a member sees while a job runs.

Each test runs the real bot (discord.py, the job engine, the emulator, SQLite in tmp_path) with a
slash command defined here that defers, submits and hands the job to Delivery, as the real commands do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import discord
import pytest
from fakediscord import FakeDiscord, FakeMessage, InteractionHandle, Permission, RecordedRequest, running_bot

from bot.bot import MJBot
from bot.config import (
    AceDataSettings,
    CallbackSettings,
    Config,
    DiscordSettings,
    EmulatorConfig,
    JobsSettings,
    StoreSettings,
)
from bot.jobs import JobEvent, JobEventType
from bot.options import imagine_request, video_request
from bot.store import JobMeta, Store
from bot.store.models import Job, JobStatus
from cogs.context import InteractionContext
from cogs.delivery import Delivery

START_FRAME = "https://images.example/start.png"
#: Edits per message are paced to one per this many seconds in these tests (5 s in production).
INTERVAL = 0.3
CLIPS = ["clip1.mp4", "clip2.mp4", "clip3.mp4", "clip4.mp4"]
#: Requests by which the bot sends or edits a message.
MESSAGE_WRITES = (
    r"/webhooks/\d+/[^/]+/messages/(@original|\d+)",
    r"/channels/\d+/messages(/\d+)?",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_config(fake: FakeDiscord, tmp_path: Path, *, video_s: float = 0.3, emulator_port: int = 0) -> Config:
    return Config(
        discord=DiscordSettings(token="fake-token", api_base=fake.api_base, gateway_url=fake.gateway_url),
        acedata=AceDataSettings(base_url="emulator"),
        jobs=JobsSettings(poll_interval_s=0.1),
        callback=CallbackSettings(listen_port=0),
        store=StoreSettings(path=str(tmp_path / "mjbot.sqlite3")),
        emulator=EmulatorConfig(job_duration_s=0.3, video_duration_s=video_s, listen_port=emulator_port),
    )


class TestBot(MJBot):
    """The bot with Delivery only, plus /video and /imagine commands that work like the real ones."""

    __test__ = False

    def __init__(self, config: Config) -> None:
        super().__init__(config, cogs=("delivery",), guild_ready_timeout=0.05)
        self.job_ids: list[str] = []
        self._new_job = asyncio.Event()

        @self.tree.command(name="video", description="A video")
        async def video(interaction: discord.Interaction[MJBot], prompt: str) -> None:
            await interaction.response.defer(thinking=True)
            await self._submit(interaction, video_request(prompt, START_FRAME))

        @self.tree.command(name="imagine", description="A picture")
        async def imagine(interaction: discord.Interaction[MJBot], prompt: str) -> None:
            await interaction.response.defer(thinking=True)
            await self._submit(interaction, imagine_request(prompt))

    @property
    def delivery(self) -> Delivery:
        delivery = self.get_cog("Delivery")
        assert isinstance(delivery, Delivery), "the Delivery cog is not loaded"
        return delivery

    async def setup_hook(self) -> None:
        await super().setup_hook()
        self.delivery.edit_interval_s = INTERVAL

    async def _submit(self, interaction: discord.Interaction[MJBot], request: Any) -> None:
        job_id = await self.services.engine.submit(
            request, user_id=interaction.user.id, guild_id=interaction.guild_id, channel_id=interaction.channel_id
        )
        self.job_ids.append(job_id)
        self._new_job.set()
        await self.delivery.show_from_interaction(job_id, InteractionContext(interaction))

    async def job(self) -> Job:
        """The latest job a command submitted, as stored now."""
        async with asyncio.timeout(5):
            while not self.job_ids:
                self._new_job.clear()
                await self._new_job.wait()
        job = await self.services.store.jobs.get_job(self.job_ids[-1])
        assert job is not None
        return job

    async def finished(self, job_id: str) -> Job:
        return await self.services.engine.wait(job_id, timeout=5)


@pytest.fixture
async def bot(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[TestBot]:
    async with running_bot(TestBot(make_config(fake_discord, tmp_path)), fake_discord) as running:
        yield running


def writes(fake: FakeDiscord, since: int = 0) -> list[RecordedRequest]:
    """Every request by which the bot sent or edited a message."""
    found: list[RecordedRequest] = []
    for path in MESSAGE_WRITES:
        found += [r for r in fake.requests_matching(None, path, since=since) if r.method in ("POST", "PATCH")]
    return sorted(found, key=lambda r: r.index)


def assert_no_pings(fake: FakeDiscord) -> None:
    """Every message the bot sent or edited said that nobody may be pinged."""
    sent = writes(fake)
    assert sent
    for request in sent:
        assert request.json["allowed_mentions"]["parse"] == [], request
        assert request.json["allowed_mentions"].get("replied_user", False) is False, request


def has_clips(message: FakeMessage) -> bool:
    return [a["filename"] for a in message.attachments] == CLIPS


def final(status: str) -> Callable[[FakeMessage], bool]:
    return lambda m: any(status in (e.get("description") or "") for e in m.embeds)


def edits_of(fake: FakeDiscord, message: FakeMessage, token: str) -> list[RecordedRequest]:
    """PATCHes of one message, by its token (@original or id) or its channel."""
    by_token = rf"/webhooks/\d+/{token}/messages/(@original|{message.id})"
    by_channel = rf"/channels/{message.channel_id}/messages/{message.id}"
    found = fake.requests_matching("PATCH", by_token) + fake.requests_matching("PATCH", by_channel)
    return sorted(found, key=lambda r: r.index)


# -- the normal path -------------------------------------------------------------------------------------


async def test_progress_is_paced_and_the_clips_arrive_attached_with_buttons(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    async with running_bot(TestBot(make_config(fake, tmp_path, video_s=1.5)), fake) as bot:
        handle = await fake.slash("video", {"prompt": "a cat @everyone <@" + str(fake.bob.id) + ">"})
        message = await handle.wait_for_original(has_clips, timeout=8)
        job = await bot.job()
        await bot.delivery.idle()
        link = await bot.services.store.links.link_for_message(message.id)
        assert link is not None and link.delivered == "succeeded"

    assert job.status is JobStatus.SUCCEEDED
    patches = edits_of(fake, message, handle.token)
    assert len(patches) >= 3, "the message showed progress before the result"
    # Progress edits keep the pacing; the result does not wait for it (it may follow the last one closely).
    gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(patches[:-1])]
    assert min(gaps) >= INTERVAL * 0.9, f"progress edits closer than the pacing interval: {gaps}"

    last = patches[-1]
    assert [f.filename for f in last.files] == CLIPS
    for upload in last.files:
        assert upload.data[4:8] == b"ftyp", "a real MP4 starts with its ftyp box"
    assert f"mj:ext:{job.id}:1" in message.custom_ids
    assert message["mentions"] == [] and message["mention_everyone"] is False
    assert_no_pings(fake)


async def test_an_imagine_grid_is_attached_and_a_refresh_keeps_it(bot: TestBot, fake_discord: FakeDiscord) -> None:
    handle = await fake_discord.slash("imagine", {"prompt": "a lighthouse"})
    message = await handle.wait_for_original(lambda m: bool(m.attachments))
    assert [a["filename"] for a in message.attachments] == ["grid.png"]
    assert message.embeds[0]["image"]["url"].endswith("grid.png")
    job = await bot.job()
    assert f"mj:img:{job.id}:upscale1" in message.custom_ids

    await bot.delivery.idle()
    mark = len(fake_discord.recorder)
    await bot.delivery.refresh(job.id)
    await bot.delivery.idle()
    (again,) = fake_discord.requests_matching("PATCH", r"/webhooks/.*", since=mark)
    assert again.files == [] and "attachments" not in again.json, "a refresh uploads nothing again"
    assert [a["filename"] for a in message.attachments] == ["grid.png"]


async def test_a_failed_job_shows_its_reason(bot: TestBot, fake_discord: FakeDiscord) -> None:
    emulator = bot.services.emulator
    assert emulator is not None
    emulator.settings.video_duration_s = 30
    handle = await fake_discord.slash("video", {"prompt": "a storm"})
    job = await bot.job()
    assert job.task_id is not None
    emulator.finish(job.task_id, success=False, error_message="The storm could not be rendered")
    message = await handle.wait_for_original(final("could not be rendered"))
    assert not message.attachments
    assert f"mj:rr:{job.id}" in message.custom_ids


# -- upload limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("padding", "limit"),
    [
        (0, 16 * 1024),  # each clip (4-7 KB) fits, the four together do not
        (64 * 1024, 48 * 1024),  # each clip is larger than the limit on its own
    ],
)
async def test_clips_over_the_interaction_limit_are_linked_not_refused(
    bot: TestBot, fake_discord: FakeDiscord, padding: int, limit: int
) -> None:
    emulator = bot.services.emulator
    assert emulator is not None
    emulator.settings.clip_padding_bytes = padding
    handle = await fake_discord.slash("video", {"prompt": "a wave"}, attachment_size_limit=limit)
    message = await handle.wait_for_original(final("Done"))
    job = await bot.job()
    assert not message.attachments
    description = message.embeds[0]["description"]
    for url in job.video_urls:
        assert url in description
    assert fake_discord.requests_matching(status=413) == []
    assert f"mj:ext:{job.id}:1" in message.custom_ids


async def test_a_413_from_discord_falls_back_to_links(bot: TestBot, fake_discord: FakeDiscord) -> None:
    # The guild takes smaller files than discord.py assumes for it: Discord answers 413 to the upload.
    fake_discord.guild.attachment_size_limit = 5000
    handle = await fake_discord.slash("video", {"prompt": "a wave"})
    await handle.wait_for_original(has_clips)
    job = await bot.job()

    message_id = await bot.delivery.show_in_channel(job.id, fake_discord.general.id)

    assert message_id is not None
    posted = fake_discord.message(message_id)
    assert not posted.attachments
    assert job.video_urls[0] in posted.embeds[0]["description"]
    assert (
        len(fake_discord.requests_matching("POST", rf"/channels/{fake_discord.general.id}/messages", status=413)) == 1
    )


# -- tokens and fallbacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["refused", "aged"])
async def test_after_the_token_expires_the_result_arrives_by_a_channel_edit(
    how: str, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    async with running_bot(TestBot(make_config(fake, tmp_path, video_s=1.0)), fake) as bot:
        handle = await fake.slash("video", {"prompt": "a slow river"})
        await handle.wait_for_original(final("started"))
        mark = len(fake.recorder)
        fake.advance_clock(16 * 60)  # Discord now refuses the token
        if how == "aged":
            bot.delivery.clock = lambda: 10**12  # and the bot knows the token is too old to try
        message = await handle.wait_for_original(has_clips, timeout=5)
        job = await bot.job()

    channel_edits = fake.requests_matching(
        "PATCH", rf"/channels/{message.channel_id}/messages/{message.id}", since=mark
    )
    assert channel_edits and channel_edits[-1].status == 200
    token_edits = [r for r in fake.requests_matching("PATCH", r"/webhooks/.*", since=mark)]
    if how == "aged":
        assert token_edits == []
    else:
        assert token_edits and {r.status for r in token_edits} == {401}
    assert job.status is JobStatus.SUCCEEDED


async def test_when_the_message_cannot_be_edited_the_result_is_posted_as_a_reply(
    bot: TestBot, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    emulator = bot.services.emulator
    assert emulator is not None
    emulator.settings.video_duration_s = 30
    handle = await fake.slash("video", {"prompt": "a quiet street"})
    original = await handle.wait_for_original(final("started"))
    job = await bot.job()
    await fake.delete_message(original)  # someone removed it; neither the token nor the channel can edit it
    assert job.task_id is not None
    emulator.finish(job.task_id)

    reply = await fake.wait_for_message(fake.general, has_clips)
    assert reply.id != original.id
    await bot.delivery.idle()
    store = bot.services.store
    assert await store.links.link_for_message(original.id) is None
    link = await store.links.link_for_message(reply.id)
    assert link is not None and link.job_id == job.id and link.delivered == "succeeded"
    assert_no_pings(fake)


async def test_when_nothing_can_be_sent_a_warning_names_the_job_and_a_later_sweep_delivers(
    bot: TestBot, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    emulator = bot.services.emulator
    assert emulator is not None
    emulator.settings.video_duration_s = 30
    handle = await fake.slash("video", {"prompt": "a locked room"})
    await handle.wait_for_original(final("started"))
    job = await bot.job()
    fake.expire_token(handle)
    fake.set_overwrite(fake.general, fake.guild.member(fake.bot_user), deny=Permission.VIEW_CHANNEL)
    assert job.task_id is not None
    with caplog.at_level(logging.WARNING, logger="cogs.delivery"):
        emulator.finish(job.task_id)
        await bot.finished(job.id)
        await fake.wait_for(
            lambda: any("could not be delivered" in r.getMessage() for r in caplog.records), what="the warning"
        )
    warning = next(r for r in caplog.records if "could not be delivered" in r.getMessage())
    assert job.id in warning.getMessage() and str(fake.guild.id) in warning.getMessage()
    assert handle.token not in caplog.text
    store = bot.services.store
    link = await store.links.link_for_message(handle.original_message_id or 0)
    assert link is not None and link.delivered is None, "left for a later sweep or the next start"

    assert await bot.delivery.sweep() == 0, "a message that just failed is not retried at once"
    fake.general.overwrites.clear()  # the bot may see the channel again
    bot.delivery.retry_failed_after_s = 0
    assert await bot.delivery.sweep() == 1
    message = await handle.wait_for_original(has_clips)
    assert fake.requests_matching("PATCH", rf"/channels/{message.channel_id}/messages/{message.id}", status=200)


# -- chains and restarts ---------------------------------------------------------------------------------


async def test_a_chained_video_takes_over_its_parents_message(bot: TestBot, fake_discord: FakeDiscord) -> None:
    handle = await fake_discord.slash("imagine", {"prompt": "a fox"})
    await handle.wait_for_original(lambda m: bool(m.attachments))
    parent = await bot.finished((await bot.job()).id)
    assert parent.image_url is not None

    child_id = await bot.services.engine.submit(
        video_request(parent.prompt, parent.image_url),
        user_id=parent.user_id,
        guild_id=parent.guild_id,
        channel_id=parent.channel_id,
        parent_id=parent.id,
        meta=JobMeta(chained_from=parent.id),
    )

    message = await handle.wait_for_original(has_clips)
    assert f"mj:ext:{child_id}:1" in message.custom_ids
    store = bot.services.store
    assert [link.message_id for link in await store.links.messages_for_job(child_id)] == [message.id]
    assert await store.links.messages_for_job(parent.id) == []


async def test_a_result_missed_while_the_bot_was_down_is_shown_after_the_restart(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    config = make_config(fake, tmp_path, video_s=0.8, emulator_port=free_port())
    async with running_bot(TestBot(config), fake) as first:
        handle = await fake.slash("video", {"prompt": "a lantern"})
        await handle.wait_for_original(final("started"))
        job_id = (await first.job()).id
        await first.remove_cog("Delivery")  # as if the process died before the result came
        assert (await first.finished(job_id)).status is JobStatus.SUCCEEDED
    assert not has_clips(fake.message(handle.original_message_id or 0))

    async with running_bot(TestBot(config), fake) as second:
        message = await handle.wait_for_original(has_clips)
        link = await second.services.store.links.link_for_message(message.id)
        assert link is not None
        assert link.delivered == "succeeded"


# -- DMs and deleting --------------------------------------------------------------------------------------


async def test_send_dm_attaches_the_result_and_reports_closed_dms(bot: TestBot, fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    handle = await fake.slash("video", {"prompt": "a kite"})
    await handle.wait_for_original(has_clips)
    job = await bot.job()

    alice = await bot.fetch_user(fake.alice.id)
    assert await bot.delivery.send_dm(job.id, alice) is True
    dm = await fake.wait_for_dm(fake.alice)
    assert has_clips(dm)
    assert job.id in dm.embeds[0]["footer"]["text"]
    assert dm.components == [], "a DM copy carries no buttons"

    assert_no_pings(fake)

    carol = fake.add_user("carol", dms_open=False)
    assert await bot.delivery.send_dm(job.id, await bot.fetch_user(carol.id)) is False


async def test_delete_result_deletes_every_message_and_each_job_downloads_once(
    bot: TestBot, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    emulator = bot.services.emulator
    assert emulator is not None
    emulator.settings.video_duration_s = 30
    handle = await fake.slash("video", {"prompt": "two places"})
    original = await handle.wait_for_original(final("started"))
    job = await bot.job()
    posted_id = await bot.delivery.show_in_channel(job.id, fake.general.id)
    assert posted_id is not None
    assert job.task_id is not None
    emulator.finish(job.task_id)
    await handle.wait_for_original(has_clips)
    await fake.wait_for(lambda: has_clips(fake.message(posted_id)), what="the second message's clips")
    assert bot.delivery.downloads == 4, "the clips were fetched once for both messages"

    await bot.delivery.delete_result(job.id)

    assert fake.message(original.id).deleted and fake.message(posted_id).deleted
    assert await bot.services.store.links.messages_for_job(job.id) == []


# -- a finished job shows at once ------------------------------------------------------------------------


def the_result(status: str) -> Callable[[FakeMessage], bool]:
    return has_clips if status == "succeeded" else final("could not be rendered" if status == "failed" else "ancel")


async def job_of(store: Store, handle: InteractionHandle) -> Job:
    """The job whose message the interaction's response became (linked just after it showed)."""
    async with asyncio.timeout(5):
        while True:
            job = await store.links.job_for_message(handle.original_message_id or 0)
            if job is not None:
                return job
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
async def test_a_job_that_ends_right_after_an_edit_shows_its_end_at_once(
    bot: TestBot, fake_discord: FakeDiscord, status: str
) -> None:
    fake = fake_discord
    bot.delivery.edit_interval_s = 5.0  # the production pacing
    emulator = bot.services.emulator
    assert emulator is not None
    emulator.settings.video_duration_s = 30
    handle = await fake.slash("video", {"prompt": "a short walk"})
    await handle.wait_for_original(final("started"))  # this edit opened the message's 5-second window
    job = await bot.job()
    assert job.task_id is not None

    ended = fake.now()
    if status == "cancelled":
        await bot.services.engine.cancel(job.id, reason="Cancelled by a test")
    else:
        emulator.finish(job.task_id, success=status == "succeeded", error_message="The walk could not be rendered")
    message = await handle.wait_for_original(the_result(status), timeout=4)

    shown = edits_of(fake, message, handle.token)[-1]
    assert shown.time - ended < 1.5, f"the end showed {shown.time - ended:.2f} s after the job ended"


async def test_jobs_ending_together_in_one_channel_do_not_wait_for_each_other(
    bot: TestBot, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot.delivery.edit_interval_s = 5.0
    emulator = bot.services.emulator
    assert emulator is not None
    emulator.settings.video_duration_s = 30
    handles = [await fake.slash("video", {"prompt": f"clip {n}"}) for n in range(12)]
    for handle in handles:
        await handle.wait_for_original(final("started"))
    store = bot.services.store
    jobs = [await job_of(store, handle) for handle in handles]

    ended = fake.now()
    for job in jobs:
        assert job.task_id is not None
        emulator.finish(job.task_id)
    for handle in handles:
        await handle.wait_for_original(has_clips, timeout=4)

    latest = max(edits_of(fake, fake.message(h.original_message_id or 0), h.token)[-1].time for h in handles)
    assert latest - ended < 1.5, f"the last of 12 results showed {latest - ended:.2f} s after the jobs ended"


async def test_a_progress_snapshot_that_comes_after_the_result_never_replaces_it(
    bot: TestBot, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    emulator = bot.services.emulator
    assert emulator is not None
    emulator.settings.video_duration_s = 30
    handle = await fake.slash("video", {"prompt": "a late echo"})
    await handle.wait_for_original(final("started"))
    running = await bot.job()
    assert running.task_id is not None
    emulator.finish(running.task_id)
    message = await handle.wait_for_original(has_clips)
    await bot.delivery.idle()
    await asyncio.sleep(INTERVAL * 1.5)  # the message's window closed, and with it the pacer's memory of it
    mark = len(fake.recorder)

    stale = dataclasses.replace(running, progress=55)
    await bot.delivery._events.on_job_event(JobEvent(JobEventType.PROGRESS, stale, at=0.0))
    await bot.delivery._events.on_job_event(
        JobEvent(JobEventType.PROGRESS, dataclasses.replace(stale, progress=60), at=0.0)
    )
    await bot.delivery.idle()
    await asyncio.sleep(INTERVAL * 1.5)

    assert writes(fake, since=mark) == [], "nothing was edited after the result"
    assert has_clips(message)
