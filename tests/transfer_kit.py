"""A store as a bot leaves it, for the tests that copy and compare stores: made through the repositories, and
read back through them (``answers``), so two stores can be shown to answer every lookup alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.store import (
    DeliveryState,
    FrameSource,
    JobKind,
    JobMeta,
    JobResult,
    JobStatus,
    NewJob,
    QueueState,
    Store,
    VideoOptions,
)
from bot.store.models import Lease

#: Fractions that a float must carry exactly through any database.
START = 1_700_000_000.123456
GUILD = 811_000_000_000_000_001
OTHER_GUILD = 811_000_000_000_000_002
CHANNEL = 822_000_000_000_000_001
ALICE = 833_000_000_000_000_001
BOB = 833_000_000_000_000_002
APP = 844_000_000_000_000_001
TOKEN = "interaction-token-9f2c"
#: The biggest Discord id there can be: a signed 64-bit number.
BIG_ID = 2**63 - 1


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += seconds


@dataclass
class Sample:
    """What ``fill`` made: the ids the tests look up."""

    grid: str = ""
    upscale: str = ""
    video: str = ""
    failed: str = ""
    queued: list[str] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    usage_ids: list[int] = field(default_factory=list)

    @property
    def jobs(self) -> list[str]:
        return [self.grid, self.upscale, self.video, self.failed, *self.queued]


async def fill(store: Store, clock: Clock) -> Sample:
    """A finished grid, its upscale (running, leased) and a queued video of that; a failed job; three queued jobs
    of one member made at the same instant; message links with tokens; settings; the usage ledger."""
    store.clock = clock
    made = Sample()
    grid = await store.jobs.create_job(
        NewJob(
            JobKind.IMAGINE, "generate", "a red fox in snow --ar 16:9", params={"prompt": "a red fox", "mode": "fast"},
            guild_id=GUILD, channel_id=CHANNEL, user_id=ALICE,
            meta=JobMeta(locale="zh-CN", delivery=DeliveryState(dm_sent=True), extra={"note": "ünïcode ✓"}),
        )
    )  # fmt: skip
    made.grid = grid.id
    clock.advance(0.25)
    await store.jobs.mark_submitted(grid.id, "task-grid-1")
    clock.advance(30.5)
    result = JobResult(
        image_id="img-1", image_url="https://cdn.example/grid.png", raw_image_url="https://cdn.example/raw.png",
        image_width=2048, image_height=1152, sub_image_urls=tuple(f"https://cdn.example/{n}.png" for n in range(4)),
        actions=("upscale1", "upscale2", "variation1", "reroll"),
    )  # fmt: skip
    await store.jobs.finish_job(grid.id, JobStatus.SUCCEEDED, result=result)
    clock.advance(1)
    upscale = await store.jobs.create_job(
        NewJob(
            JobKind.IMAGINE, "upscale1", "a red fox in snow", parent_id=grid.id, guild_id=GUILD, channel_id=CHANNEL,
            user_id=ALICE, meta=JobMeta(then_animate=VideoOptions(motion="high", batch_size=2), clip=1),
        ),
        lease=Lease("bot-a:1234", 60.0),
    )  # fmt: skip
    made.upscale = upscale.id
    await store.jobs.mark_submitted(upscale.id, "task-upscale-1")
    await store.jobs.update_progress_many([(upscale.id, 42)])
    video = await store.jobs.create_job(
        NewJob(
            JobKind.VIDEO, "generate", "the fox runs", params={"image_url": "https://cdn.example/u.png"},
            parent_id=upscale.id, guild_id=GUILD, channel_id=CHANNEL, user_id=ALICE, status=JobStatus.QUEUED,
            meta=JobMeta(
                chained_from=upscale.id, queue=QueueState(limit=2),
                frames={"image_url": FrameSource("https://cdn.example/u.png", result_of=upscale.id)},
            ),
        )
    )  # fmt: skip
    made.video = video.id
    clock.advance(2)
    failed = await store.jobs.create_job(
        NewJob(JobKind.VIDEO, "generate", "forbidden thing", guild_id=OTHER_GUILD, channel_id=CHANNEL, user_id=BOB)
    )
    made.failed = failed.id
    await store.jobs.finish_job(
        failed.id, JobStatus.FAILED, error_code="moderation", error_message="the prompt was refused: «forbidden»"
    )
    clock.advance(3)
    for number in range(3):  # one instant: only the order they were written in tells them apart
        queued = await store.jobs.create_job(
            NewJob(
                JobKind.IMAGINE, "generate", f"queued {number}", guild_id=GUILD, channel_id=CHANNEL, user_id=BOB,
                status=JobStatus.QUEUED, meta=JobMeta(queue=QueueState(limit=1)),
            )
        )  # fmt: skip
        made.queued.append(queued.id)
    clock.advance(1)
    links = (
        (900_000_000_000_000_001, grid.id, GUILD, "job", TOKEN, 25 * 2**20),
        (900_000_000_000_000_002, grid.id, None, "dm", None, None),
        (900_000_000_000_000_003, upscale.id, GUILD, "job", TOKEN + "-2", 8 * 2**20),
        (BIG_ID, failed.id, OTHER_GUILD, "show", None, None),
    )
    for message_id, job_id, guild_id, purpose, token, limit in links:
        await store.links.link_message(
            message_id, job_id, channel_id=CHANNEL, guild_id=guild_id, purpose=purpose, interaction_token=token,
            application_id=APP if token else None, attachment_limit=limit,
        )  # fmt: skip
        made.messages.append(message_id)
        clock.advance(0.1)
    await store.links.mark_delivered(links[0][0], "succeeded")
    await store.settings.save_guild_settings(
        GUILD, {"locale": "zh-CN", "limits": {"per_user": 3, "share": 0.1}, "channels": [CHANNEL]}
    )
    await store.settings.save_guild_settings(OTHER_GUILD, {})
    await store.settings.update_user_settings(ALICE, lambda saved: {**saved, "motion": "high", "dm_results": True})
    for job_id, guild_id, user_id, units in (
        (grid.id, GUILD, ALICE, 1.0),
        (upscale.id, GUILD, ALICE, 0.1),
        (failed.id, OTHER_GUILD, BOB, 2.5),
        (None, None, BOB, 1 / 3),
    ):
        entry = await store.usage.record_usage(
            job_id=job_id, guild_id=guild_id, user_id=user_id, kind="imagine", action="generate", units=units
        )
        made.usage_ids.append(entry.id)
        clock.advance(0.5)
    return made


async def answers(store: Store, made: Sample) -> dict[str, Any]:
    """What the bot reads from a store, through the repositories: equal answers mean the bot sees the same store."""
    jobs = await store.jobs.jobs_by_ids(made.jobs)
    return {
        "jobs": [jobs.get(job_id) for job_id in made.jobs],
        "job_for_message": [await store.links.job_for_message(message) for message in made.messages],
        "links": [await store.links.link_for_message(message) for message in made.messages],
        "messages_for_job": await store.links.messages_for_job(made.grid),
        "undelivered": await store.links.undelivered_links(),
        "children": [[job.id for job in await store.jobs.children(job_id)] for job_id in made.jobs],
        "recent": [job.id for job in await store.jobs.recent_jobs(limit=100)],
        "recent_bob": [job.id for job in await store.jobs.recent_jobs(user_id=BOB, limit=100)],
        "unfinished": [job.id for job in await store.jobs.unfinished_jobs()],
        "pending_chains": [job.id for job in await store.jobs.pending_chains(0)],
        "queue_positions": [await store.queue.queue_position(job_id) for job_id in made.queued],
        "next_queued": await store.queue.next_queued(BOB, GUILD),
        "queued_owners": await store.queue.queued_owners(),
        "holders": await store.leases.holders(made.jobs),
        "guild_settings": [await store.settings.guild_settings(guild) for guild in (GUILD, OTHER_GUILD, 1)],
        "user_settings": [await store.settings.user_settings(user) for user in (ALICE, BOB)],
        "usage_since": await store.usage.usage_since(0),
        "usage_total": [
            await store.usage.usage_total(0, guild_id=GUILD),
            await store.usage.usage_total(0, user_id=BOB),
            await store.usage.usage_total(0, in_dms=True),
            await store.usage.usage_total(START + 40),
        ],
        "usage_count": await store.usage.usage_count(0, user_id=ALICE),
    }
