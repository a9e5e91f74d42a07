"""The follow-up button and the extend modal: custom ids, and clicks through the real discord.py.

The end-to-end test posts a job's message with ``job_view(job)`` through a small bot that has what
the real one offers the UI (a follow-up runner bound for its buttons and the extend modal's submissions,
and ``bot.services.store``), clicks its buttons and submits the modal on the loopback Discord, then
restarts the bot and clicks the same old button.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord.ext import commands
from fakediscord import FakeDiscord, FakeMessage, running_bot

from bot.options import MAX_PROMPT_CHARS
from bot.store import JobResult, JobStatus, NewJob, Store
from bot.store.models import Job, JobKind
from cogs.common import CUSTOM_ID_PATTERN, FollowUp, FollowUpKind
from cogs.ui import ExtendModal, FollowUpButton, dynamic_items, job_view, render_job
from cogs.ui.components import FOLLOW_UPS
from cogs.ui.modals import extend_submission

PROMPT = "a red kite over the **dunes** @everyone"
LONGEST_JOB_ID = "0" * 16
LONGEST_ARGS: dict[FollowUpKind, str | None] = {
    FollowUpKind.EXTEND: "4",
    FollowUpKind.EXTEND_MANUAL: None,
    FollowUpKind.REROLL: None,
    FollowUpKind.CANCEL: None,
    FollowUpKind.IMAGE: "variation_strong",
    FollowUpKind.ANIMATE: "high",
    FollowUpKind.ANIMATE_QUADRANT: "4",
    FollowUpKind.DM: None,
    FollowUpKind.SAVE: None,
}


# -- custom ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FollowUpKind))
async def test_every_kind_round_trips_through_the_button_and_stays_short(kind: FollowUpKind) -> None:
    follow_up = FollowUp(kind, LONGEST_JOB_ID, LONGEST_ARGS[kind])
    button = FollowUpButton(follow_up, label="x")
    assert button.custom_id == follow_up.custom_id() and len(button.custom_id) < 100
    match = button.template.fullmatch(button.custom_id)
    assert match is not None
    rebuilt = await FollowUpButton.from_custom_id(None, button.item, match)  # type: ignore[arg-type]
    assert rebuilt.follow_up == follow_up
    assert rebuilt.item.label == "x"  # the button keeps its look when discord.py swaps it in


def test_the_bot_registers_exactly_the_follow_up_button() -> None:
    assert dynamic_items() == (FollowUpButton,)


def test_extend_modal_is_prefilled_and_within_discords_limits() -> None:
    job = finished_video("j" * 16, prompt="p" * MAX_PROMPT_CHARS)
    modal = ExtendModal(job, user_id=123456789012345678901)
    payload = modal.to_dict()
    assert payload["title"] == "Extend a clip"
    assert payload["custom_id"] == f"mj:extm:{'j' * 16}:123456789012345678901" and len(payload["custom_id"]) < 100
    inputs = {c["custom_id"]: c for row in payload["components"] for c in row["components"]}
    assert inputs["prompt"]["label"] == "Prompt" and inputs["prompt"]["value"] == job.prompt
    assert inputs["prompt"]["max_length"] == MAX_PROMPT_CHARS and inputs["prompt"]["required"] is True
    assert inputs["clip"]["label"] == "Clip (1-4)" and inputs["clip"]["value"] == "1"


def finished_video(job_id: str, *, prompt: str = PROMPT) -> Job:
    return Job(
        id=job_id,
        kind=JobKind.VIDEO,
        action="generate",
        prompt=prompt,
        params={"mode": "fast", "resolution": "720p"},
        status=JobStatus.SUCCEEDED,
        progress=100,
        created_at=1_750_000_000.0,
        updated_at=1_750_000_065.0,
        finished_at=1_750_000_065.0,
        video_id="vid-1",
        video_urls=tuple(f"https://cdn.example/{n}.mp4" for n in range(1, 5)),
        image_url="https://cdn.example/cover.png",
    )


# -- end to end, with the real discord.py ------------------------------------------------------------------


class FollowUpRecorder:
    """Stands in for ``FollowUps``: keeps what reached it and answers the click (✏️ Extend… opens the modal,
    as the real one does once its checks pass)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[tuple[int, FollowUp]] = []

    async def run(self, interaction: discord.Interaction[Any], follow_up: FollowUp) -> None:
        self.calls.append((interaction.user.id, follow_up))
        job = await self.store.jobs.get_job(follow_up.job_id)
        if follow_up.kind is FollowUpKind.EXTEND_MANUAL and job is not None:
            await interaction.response.send_modal(ExtendModal(job, user_id=interaction.user.id))
            return
        await interaction.response.send_message(f"running {follow_up.custom_id()}", ephemeral=True)


class UiBot(commands.Bot):
    """What the UI needs from the bot, and nothing else: the store, the follow-ups, the dynamic items, and the
    listener that takes the extend modal's submissions."""

    def __init__(self, store: Store) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
        )
        self.services = SimpleNamespace(store=store)
        self.followups = FollowUpRecorder(store)

    async def setup_hook(self) -> None:
        FOLLOW_UPS.bind(self, self.followups)
        self.add_dynamic_items(*dynamic_items())

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await extend_submission(interaction, self.followups)


@pytest.fixture
async def fake(fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture) -> AsyncIterator[FakeDiscord]:
    yield fake_discord
    assert fake_discord.unknown_routes == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("cogs") and r.levelno >= logging.ERROR] == []


async def stored_video(path: Path, *, owner: int, guild: int) -> str:
    store = await Store.open(path)
    try:
        new = NewJob(
            JobKind.VIDEO,
            "generate",
            PROMPT,
            params={"mode": "fast", "resolution": "720p"},
            user_id=owner,
            guild_id=guild,
        )
        job = await store.jobs.create_job(new)
        await store.jobs.mark_submitted(job.id, "task-1")
        result = JobResult(
            video_id="vid-1",
            video_urls=tuple(f"https://cdn.example/{n}.mp4" for n in range(1, 5)),
            image_url="https://cdn.example/cover.png",
        )
        await store.jobs.finish_job(job.id, JobStatus.SUCCEEDED, result=result)
        return job.id
    finally:
        await store.close()


async def post_job(bot: UiBot, fake: FakeDiscord, job: Job, *, stop_view: bool = False) -> FakeMessage:
    rendered = render_job(job, owner_name="Alice", sandbox=True)
    channel = bot.get_channel(fake.general.id)
    assert isinstance(channel, discord.TextChannel)
    kwargs: dict[str, Any] = {"embeds": rendered.embeds}
    if rendered.view is not None:
        kwargs["view"] = rendered.view
    sent = await channel.send(rendered.content, **kwargs)
    if stop_view and rendered.view is not None:
        rendered.view.stop()  # what a timeout or a careless caller would do; no button may die of it
    return fake.message(sent.id)


async def ephemeral_text(handle: Any) -> str:
    message = await handle.wait_for_message()
    assert message.ephemeral
    return str(message.content)


async def test_buttons_and_the_extend_modal_reach_the_follow_ups_and_survive_a_restart(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    path = tmp_path / "jobs.sqlite"
    job_id = await stored_video(path, owner=fake.bob.id, guild=fake.guild.id)
    store = await Store.open(path)
    try:
        bot = UiBot(store)
        async with running_bot(bot, fake):
            job = await store.jobs.get_job(job_id)
            assert job is not None and job.status is JobStatus.SUCCEEDED
            message = await post_job(bot, fake, job, stop_view=True)
            assert "@everyone" not in str(message.wire())
            assert message.custom_ids[:5] == [f"mj:ext:{job_id}:{n}" for n in range(1, 5)] + [f"mj:extm:{job_id}"]

            click = await fake.click(message, f"mj:ext:{job_id}:2", user=fake.alice)
            assert await ephemeral_text(click) == f"running mj:ext:{job_id}:2"
            assert bot.followups.calls == [(fake.alice.id, FollowUp(FollowUpKind.EXTEND, job_id, "2"))]

            opener = await fake.click(message, f"mj:extm:{job_id}", user=fake.bob)
            modal = await opener.wait_for_modal()
            assert bot.followups.calls[-1] == (fake.bob.id, FollowUp(FollowUpKind.EXTEND_MANUAL, job_id))
            assert modal["title"] == "Extend a clip"
            inputs = {c["custom_id"]: c for row in modal["components"] for c in row["components"]}
            assert inputs["prompt"]["value"] == PROMPT and inputs["clip"]["value"] == "1"
            submitted = await fake.submit_modal(modal["custom_id"], {"prompt": "the kite dives", "clip": "3"})
            assert await ephemeral_text(submitted) == f"running mj:ext:{job_id}:3"
            extend = FollowUp(FollowUpKind.EXTEND, job_id, "3", prompt="the kite dives")
            assert bot.followups.calls[-1] == (fake.bob.id, extend)

            reopened = await fake.click(message, f"mj:extm:{job_id}", user=fake.bob)
            bad = await fake.submit_modal((await reopened.wait_for_modal())["custom_id"], {"prompt": "x", "clip": "7"})
            text = await ephemeral_text(bad)
            assert "no clip 7" in text and "1 to 4" in text
            assert bot.followups.calls[-1][1].kind is FollowUpKind.EXTEND_MANUAL  # nothing ran for the bad clip

            gone = await post_job(bot, fake, finished_video("nosuchjob0"))
            unknown = await fake.click(gone, "mj:extm:nosuchjob0")
            assert await ephemeral_text(unknown) == "running mj:extm:nosuchjob0"
            assert unknown.modal is None
    finally:
        await store.close()

    # A new process: a new bot, the store opened again from disk, nothing of the old bot in memory.
    store = await Store.open(path)
    try:
        restarted = UiBot(store)
        async with running_bot(restarted, fake):
            click = await fake.click(message, f"mj:ext:{job_id}:4", user=fake.alice)
            assert await ephemeral_text(click) == f"running mj:ext:{job_id}:4"
            assert restarted.followups.calls == [(fake.alice.id, FollowUp(FollowUpKind.EXTEND, job_id, "4"))]
            opener = await fake.click(message, f"mj:extm:{job_id}", user=fake.bob)
            assert (await opener.wait_for_modal())["title"] == "Extend a clip"
    finally:
        await store.close()


@pytest.mark.allow_discord_errors("unknown follow-up")
async def test_a_button_of_an_unknown_kind_is_refused_with_an_explanation(fake: FakeDiscord, tmp_path: Path) -> None:
    custom_id = "mj:zap:abcdef1234:1"
    assert re.fullmatch(CUSTOM_ID_PATTERN, custom_id) is not None  # the template matches; the kind is unknown
    store = await Store.open(tmp_path / "jobs.sqlite")
    try:
        bot = UiBot(store)
        async with running_bot(bot, fake):
            channel = bot.get_channel(fake.general.id)
            assert isinstance(channel, discord.TextChannel)
            old = discord.ui.View(timeout=None)
            old.add_item(discord.ui.Button(label="Zap", custom_id=custom_id))
            sent = await channel.send("a message from another version of the bot", view=old)
            old.stop()  # forget it, as a restart would: only the dynamic items are left to answer
            click = await fake.click(fake.message(sent.id), custom_id)
            assert "another version of the bot" in await ephemeral_text(click)
            assert bot.followups.calls == []
    finally:
        await store.close()


async def test_a_failing_follow_up_answers_with_a_reference_instead_of_failing_silently(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(FollowUpRecorder):
        async def run(self, interaction: discord.Interaction[Any], follow_up: FollowUp) -> None:
            raise RuntimeError("the engine is down")

    store = await Store.open(tmp_path / "jobs.sqlite")
    try:
        bot = UiBot(store)
        bot.followups = Broken(store)  # bound in place of the recorder when the bot starts
        async with running_bot(bot, fake_discord):
            job = finished_video("brokenjob1")
            assert job_view(job) is not None
            message = await post_job(bot, fake_discord, job)
            click = await fake_discord.click(message, "mj:rr:brokenjob1")
            text = await ephemeral_text(click)
            assert "Something went wrong" in text and "reference" in text
    finally:
        await store.close()
    logged = [r for r in caplog.records if r.name.startswith("cogs") and r.levelno >= logging.ERROR]
    assert logged and logged[0].exc_info is not None
