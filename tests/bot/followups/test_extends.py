"""The extend limit holds however many times an extension is rerolled: the count is read, not guessed."""

from __future__ import annotations

from dataclasses import replace

from test_followup_rules import Jobs, extension, refusal, video

from bot.followups import MAX_EXTENDS, ExtendClip, Plan, RefusalCode, Reroll, extends_of, plan_for
from bot.store import EMPTY_META, Job

REROLLS = 100


class CountingJobs(Jobs):
    """The store's get_job over jobs in memory, counting the reads."""

    reads = 0

    async def get_job(self, job_id: str) -> Job | None:
        self.reads += 1
        return await super().get_job(job_id)


async def made(jobs: Jobs, parent: Job, number: int, action: ExtendClip | Reroll) -> Job:
    """The job a follow-up on ``parent`` makes, as the front ends store it (the planned request and meta)."""
    outcome = await plan_for(jobs, parent, action)
    assert isinstance(outcome, Plan), outcome
    child = video(
        id=f"job{number:03}",
        action="extend",
        params=outcome.request.to_body(),
        parent_id=parent.id,
        video_id=f"v-{number}",
        meta=outcome.meta,
    )
    jobs.jobs[child.id] = child
    return child


async def test_a_long_chain_of_rerolls_of_the_fourth_extension_is_still_four_extensions() -> None:
    jobs = CountingJobs(video())
    last = jobs.jobs["vid001"]
    for number in range(1, MAX_EXTENDS + 1):
        last = await made(jobs, last, number, ExtendClip(1))
    for number in range(MAX_EXTENDS + 1, MAX_EXTENDS + 1 + REROLLS):
        last = await made(jobs, last, number, Reroll())
    jobs.reads = 0
    assert await extends_of(jobs, last) == MAX_EXTENDS
    assert jobs.reads == 0  # the count is the job's own: no walk up a hundred rerolls on every click
    assert refusal(await plan_for(jobs, last, ExtendClip(2))) is RefusalCode.EXTEND_LIMIT


def unrecorded_chain(extensions: int) -> list[Job]:
    """A video, ``extensions`` extensions of it, then many rerolls of the last, made before the count was recorded
    (a reroll sends the same request again and carries no clip)."""
    chain = [video()]
    for step in range(1, extensions + 1):
        chain.append(extension(step, chain[-1]))
    for step in range(REROLLS):
        chain.append(replace(chain[-1], id=f"rr{step:04}", parent_id=chain[-1].id, meta=EMPTY_META))
    return chain


async def test_jobs_that_recorded_no_count_are_counted_past_any_number_of_rerolls() -> None:
    chain = unrecorded_chain(MAX_EXTENDS)
    jobs = Jobs(*chain)
    assert await extends_of(jobs, chain[-1]) == MAX_EXTENDS
    assert refusal(await plan_for(jobs, chain[-1], ExtendClip(1))) is RefusalCode.EXTEND_LIMIT

    shorter = unrecorded_chain(MAX_EXTENDS - 1)
    jobs = Jobs(*shorter)
    assert await extends_of(jobs, shorter[-1]) == MAX_EXTENDS - 1
    fourth = await plan_for(jobs, shorter[-1], ExtendClip(1))
    assert isinstance(fourth, Plan) and fourth.meta.extends == MAX_EXTENDS  # from now on, one read counts
