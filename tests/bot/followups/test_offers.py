"""What a result allows (bot.followups.offered) is what the planner makes: nothing else is planned, nothing raises.

The Discord buttons and reactions and the CLI read the same list (tests/cogs/ui/test_views.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_followup_rules import grid, planned, refusal, upscale, video

from bot.acedata.models import GRID_ACTIONS, GRID_SIZE, UPSCALED_ACTIONS, ImagineGenerate
from bot.followups import (
    Action,
    Animate,
    ExtendClip,
    ImageAction,
    Plan,
    Refusal,
    RefusalCode,
    Reroll,
    allows,
    normalized,
    offered,
    plan,
)
from bot.options import MAX_PROMPT_CHARS
from bot.store import Job, JobMeta, JobStatus

#: Every action a front end can ask for.
EVERY_ACTION: tuple[Action, ...] = (
    *(ExtendClip(clip) for clip in range(GRID_SIZE + 2)),
    ExtendClip(1, "the kite dives"),
    Reroll(),
    Animate(),
    Animate(motion="low"),
    Animate(motion="high"),
    *(Animate(image=index) for index in range(GRID_SIZE + 2)),
    *(ImageAction(name) for name in (*GRID_ACTIONS, *UPSCALED_ACTIONS, "made_up_action", "")),
)


def every_result() -> dict[str, Job]:
    """A job of every kind of result, finished or not."""
    extension = video(id="ext001", action="extend", parent_id="vid001", meta=JobMeta(clip=2, extends=1))
    results = {
        "video": video(),
        "video of one clip": video(video_urls=("https://cdn.example/0.mp4",)),
        "video without an id": video(video_id=None),
        "extension": extension,
        "grid": grid(),
        "video grid": grid(meta=JobMeta(video_grid=True)),
        "variation": grid(id="var001", action="variation2"),
        "upscale": upscale(),
        "upscale without actions": upscale(actions=()),
        "upscale of an upscale": upscale(action="upscale_2x", actions=("variation_subtle", "pan_up")),
        "grid without actions": grid(action="variation_subtle", actions=()),
    }
    for status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT):
        results[f"{status.value} grid"] = grid(status=status, actions=(), image_id=None)
        results[f"{status.value} video"] = video(status=status, video_id=None)
    for status in (JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.RUNNING):
        results[f"{status.value} grid"] = grid(status=status, actions=())
        results[f"{status.value} video"] = video(status=status, video_id=None)
    return results


@pytest.mark.parametrize(("name", "result"), every_result().items(), ids=lambda value: str(value)[:30])
def test_the_planner_makes_exactly_what_the_result_offers(name: str, result: Job) -> None:
    made = {normalized(action) for action in EVERY_ACTION if isinstance(plan(result, action), Plan)}
    assert made == set(offered(result)), name
    assert all(allows(result, action) == (normalized(action) in made) for action in EVERY_ACTION)


def test_a_follow_up_the_result_does_not_offer_is_refused_not_made() -> None:
    # 🔄 on an upscale asked for a new grid: the API offers no reroll of an upscale.
    assert refusal(plan(upscale(), Reroll())) is RefusalCode.NOT_OFFERED
    # Animate N is a /video grid's; a grid /imagine made is animated from one of its upscales.
    assert refusal(plan(grid(), Animate(image=2))) is RefusalCode.NOT_OFFERED
    assert isinstance(plan(grid(meta=JobMeta(video_grid=True)), Animate(image=2)), Plan)
    # A grid the API listed nothing for is still a grid: it is not animated as one image.
    assert refusal(plan(grid(action="variation_subtle", actions=()), Animate())) is RefusalCode.ANIMATE_GRID
    # Nothing is made of a job still under way, not even the same request again.
    assert refusal(plan(video(status=JobStatus.RUNNING), Reroll())) is RefusalCode.JOB_UNFINISHED
    assert refusal(plan(grid(status=JobStatus.QUEUED), Reroll())) is RefusalCode.JOB_UNFINISHED
    # A job that did not succeed is made again.
    assert planned(plan(grid(status=JobStatus.FAILED), Reroll())).request == ImagineGenerate("a heron", mode="relax")
    assert Refusal(RefusalCode.JOB_UNFINISHED).english() == "This job is not finished yet; try again once it is."


def test_a_prompt_that_cannot_be_sent_is_a_refusal_not_an_error() -> None:
    too_long = plan(video(), ExtendClip(1, "a" * (MAX_PROMPT_CHARS + 1)))
    assert isinstance(too_long, Refusal) and too_long.code is RefusalCode.PROMPT_TOO_LONG
    assert too_long.english() == "The prompt is 2,001 characters long; the limit is 2,000. Shorten it and try again."
    assert refusal(plan(video(), ExtendClip(1, "\u200b\u200b"))) is RefusalCode.PROMPT_EMPTY
    assert refusal(plan(video(), ExtendClip(1, "\ufdfa" * 400))) is RefusalCode.PROMPT_EXPANDS
    # Made again from its own prompt: a failed grid whose prompt has nothing in it.
    blank = grid(status=JobStatus.FAILED, params={}, prompt="\u2060")
    assert refusal(plan(blank, Reroll())) is RefusalCode.PROMPT_EMPTY


@pytest.mark.parametrize("prompt", ["", "\u200b", "a" * 5000, "\ufdfa" * 400, "ok"])
def test_no_action_on_any_result_raises(prompt: str) -> None:
    for result in every_result().values():
        for action in EVERY_ACTION:
            for asked in (action, replace(action, prompt=prompt)) if isinstance(action, ExtendClip) else (action,):
                assert isinstance(plan(replace(result, prompt=prompt), asked), Plan | Refusal)
