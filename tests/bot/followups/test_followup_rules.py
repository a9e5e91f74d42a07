"""The core's follow-up rules (bot.followups): what each action on a job makes, or why it is refused.

Pure unit tests on jobs built in memory; the Discord paths (test_followups, test_components, test_reactions),
the chain (test_chains) and the CLI (test_cli_followups) exercise the same planner end to end.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.acedata.models import ImagineAction, ImagineGenerate, VideoExtend, VideoGenerate
from bot.followups import (
    MAX_EXTENDS,
    Animate,
    ExtendClip,
    ImageAction,
    Plan,
    Refusal,
    RefusalCode,
    Reroll,
    extends_of,
    number,
    offered,
    plan,
    plan_chained_video,
    plan_for,
)
from bot.store import EMPTY_META, Job, JobKind, JobMeta, JobStatus, VideoOptions

GRID_ACTIONS = ("upscale1", "upscale2", "upscale3", "upscale4", "variation1", "reroll")
UPSCALE_ACTIONS = ("variation_subtle", "variation_strong", "zoom_out_2x", "pan_left", "upscale_2x")
LOCALES = Path(__file__).resolve().parents[3] / "cogs" / "i18n" / "locales"


def job(kind: JobKind = JobKind.IMAGINE, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": "job001",
        "kind": kind,
        "action": "generate",
        "prompt": "a heron",
        "params": {},
        "status": JobStatus.SUCCEEDED,
        "progress": 100,
        "created_at": 0.0,
        "updated_at": 0.0,
    }
    values.update(fields)
    return Job(**values)


def grid(**fields: Any) -> Job:
    body = ImagineGenerate(prompt="a heron", mode="relax").to_body()
    base: dict[str, Any] = {"params": body, "image_id": "img-grid", "image_url": "https://cdn.example/grid.png"}
    return job(**{**base, "actions": GRID_ACTIONS, **fields})


def upscale(**fields: Any) -> Job:
    body = ImagineAction("upscale2", "img-grid", mode="turbo").to_body()
    values: dict[str, Any] = {
        "id": "up001",
        "action": "upscale2",
        "params": body,
        "image_id": "img-up",
        "image_url": "https://cdn.example/small.png",
        "raw_image_url": "https://cdn.example/full.png",
        "actions": UPSCALE_ACTIONS,
    }
    return job(**{**values, **fields})


def video(**fields: Any) -> Job:
    body = VideoGenerate(prompt="a kite", image_url="https://cdn.example/start.png", mode="turbo", resolution="480p")
    values: dict[str, Any] = {"id": "vid001", "prompt": "a kite", "params": body.to_body(), "video_id": "v-1"}
    return job(JobKind.VIDEO, **{**values, **fields})


def planned(outcome: Plan | Refusal) -> Plan:
    assert isinstance(outcome, Plan), outcome
    return outcome


def refusal(outcome: Plan | Refusal) -> RefusalCode:
    assert isinstance(outcome, Refusal), outcome
    return outcome.code


class Jobs:
    """The store's get_job over jobs in memory."""

    def __init__(self, *jobs: Job) -> None:
        self.jobs = {each.id: each for each in jobs}

    async def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)


def extension(number: int, parent: Job, *, clip_meta: bool = True) -> Job:
    assert parent.video_id
    body = VideoExtend(video_id=parent.video_id, video_index=0, prompt="on", mode="turbo").to_body()
    meta = JobMeta(clip=1) if clip_meta else EMPTY_META
    return video(
        id=f"ext{number:03}", action="extend", params=body, parent_id=parent.id, video_id=f"v-{number + 1}", meta=meta
    )


# -- extend -----------------------------------------------------------------------------------------------------------


def test_extend_keeps_the_videos_mode_and_resolution_and_prompt() -> None:
    made = planned(plan(video(), ExtendClip(3)))
    assert made.request == VideoExtend(video_id="v-1", video_index=2, prompt="a kite", mode="turbo", resolution="480p")
    assert made.meta.clip == 3
    renamed = planned(plan(video(), ExtendClip(1, "the kite dives")))
    assert isinstance(renamed.request, VideoExtend) and renamed.request.prompt == "the kite dives"


def test_extend_of_a_video_made_without_a_typed_request_uses_the_defaults() -> None:
    made = planned(plan(video(params={}), ExtendClip(1)))
    assert isinstance(made.request, VideoExtend)
    assert (made.request.mode, made.request.resolution) == ("fast", "720p")


def test_extend_refusals_name_what_is_wrong() -> None:
    assert refusal(plan(video(), ExtendClip(0))) is RefusalCode.PICK_CLIP
    assert refusal(plan(video(), ExtendClip(5))) is RefusalCode.PICK_CLIP
    assert refusal(plan(grid(), ExtendClip(1))) is RefusalCode.ONLY_VIDEOS
    assert refusal(plan(video(status=JobStatus.RUNNING), ExtendClip(1))) is RefusalCode.VIDEO_UNFINISHED
    limit = plan(video(), ExtendClip(1), extends=MAX_EXTENDS)
    assert isinstance(limit, Refusal) and limit.code is RefusalCode.EXTEND_LIMIT
    assert limit.english().startswith("This video has been extended 4 times")
    assert isinstance(plan(video(), ExtendClip(1), extends=MAX_EXTENDS - 1), Plan)


async def test_the_extend_limit_counts_the_chain_of_extensions() -> None:
    chain = [video()]
    for step in range(1, MAX_EXTENDS + 1):
        chain.append(extension(step, chain[-1], clip_meta=step % 2 == 0))  # older extends carried no clip
    jobs = Jobs(*chain)
    assert [await extends_of(jobs, each) for each in chain] == [0, 1, 2, 3, 4]
    assert isinstance(await plan_for(jobs, chain[3], ExtendClip(2)), Plan)
    assert refusal(await plan_for(jobs, chain[4], ExtendClip(2))) is RefusalCode.EXTEND_LIMIT


async def test_a_reroll_of_an_extension_is_not_one_more_extension() -> None:
    first = extension(1, video())
    again = planned(plan(first, Reroll()))
    assert again.request == first.request
    rerolled = replace(first, id="rr001", parent_id=first.id, video_id="v-9", meta=again.meta)
    jobs = Jobs(video(), first, rerolled)
    assert await extends_of(jobs, rerolled) == 1


# -- reroll -----------------------------------------------------------------------------------------------------------


def test_reroll_a_grid_asks_the_api_in_the_grids_mode() -> None:
    made = planned(plan(grid(), Reroll()))
    assert made.request == ImagineAction("reroll", "img-grid", mode="relax")
    # A grid that failed has no API reroll: it is made again from its prompt, in its mode.
    fresh = planned(plan(grid(actions=(), status=JobStatus.FAILED), Reroll()))
    assert fresh.request == ImagineGenerate(prompt="a heron", mode="relax")


def test_reroll_a_video_sends_its_request_again_and_keeps_its_motion() -> None:
    made = planned(plan(video(meta=JobMeta(motion="high")), Reroll()))
    assert made.request == video().request and made.meta.motion == "high"
    assert refusal(plan(video(params={}), Reroll())) is RefusalCode.NO_START_FRAME


# -- image actions ----------------------------------------------------------------------------------------------------


def test_an_image_action_is_the_apis_in_the_images_mode() -> None:
    made = planned(plan(upscale(), ImageAction("variation_subtle")))
    assert made.request == ImagineAction("variation_subtle", "img-up", mode="turbo")
    assert refusal(plan(grid(), ImageAction("pan_left"))) is RefusalCode.NOT_OFFERED
    assert refusal(plan(grid(status=JobStatus.RUNNING), ImageAction("upscale1"))) is RefusalCode.IMAGE_UNFINISHED


def test_a_new_grid_of_a_video_grid_is_a_video_grid() -> None:
    options = VideoOptions(mode="turbo", resolution="480p")
    made = planned(plan(grid(meta=JobMeta(video_grid=True, video_options=options)), ImageAction("variation1")))
    assert made.meta == JobMeta(video_grid=True, video_options=options)
    assert planned(plan(grid(meta=JobMeta(video_options=options)), ImageAction("upscale1"))).meta.video_grid is False


# -- animate ----------------------------------------------------------------------------------------------------------


def test_animate_the_chosen_motion_replaces_the_prompts() -> None:
    flagged = upscale(prompt="a red fox --motion high --ar 1:1")
    made = planned(plan(flagged, Animate(motion="low")))
    assert isinstance(made.request, VideoGenerate)
    assert made.request.prompt == "a red fox --ar 1:1 --motion low"
    assert made.request.image_url == "https://cdn.example/full.png"
    assert made.meta.motion == "low" and made.meta.frames["image_url"].result_of == flagged.id
    kept = planned(plan(flagged, Animate()))  # no motion chosen: the prompt's stays
    assert isinstance(kept.request, VideoGenerate) and kept.request.prompt == "a red fox --motion high --ar 1:1"


def test_animate_uses_the_video_options_and_a_loop_drops_the_end_frame() -> None:
    options = VideoOptions(mode="turbo", resolution="480p", loop=True, end_image_url="https://x/end.png", batch_size=2)
    made = planned(plan(upscale(prompt="a fox --bs 4", meta=JobMeta(video_options=options)), Animate(motion="high")))
    assert made.request == VideoGenerate(
        prompt="a fox --motion high --bs 2",
        image_url="https://cdn.example/full.png",
        loop=True,
        mode="turbo",
        resolution="480p",
    )


def test_animate_refusals() -> None:
    assert refusal(plan(upscale(), Animate(motion="wild"))) is RefusalCode.PICK_MOTION
    assert refusal(plan(upscale(), Animate(motion=""))) is RefusalCode.PICK_MOTION
    assert refusal(plan(upscale(status=JobStatus.RUNNING), Animate(motion="low"))) is RefusalCode.ANIMATE_UNFINISHED
    assert refusal(plan(grid(), Animate(motion="low"))) is RefusalCode.ANIMATE_GRID
    assert refusal(plan(video(), Animate(motion="low"))) is RefusalCode.ANIMATE_UNFINISHED


def test_animate_an_image_of_a_grid_upscales_it_and_carries_the_options() -> None:
    options = VideoOptions(mode="turbo", resolution="480p", motion="high")
    made = planned(plan(grid(meta=JobMeta(video_grid=True, video_options=options)), Animate(image=3)))
    assert made.request == ImagineAction("upscale3", "img-grid", mode="relax")
    assert made.meta == JobMeta(then_animate=options, video_options=options)
    low = planned(plan(grid(meta=JobMeta(video_grid=True, video_options=options)), Animate(image=1, motion="low")))
    assert low.meta.then_animate == replace(options, motion="low")
    assert refusal(plan(grid(), Animate(image=5))) is RefusalCode.PICK_IMAGE
    assert refusal(plan(grid(), Animate(image=1, motion="wild"))) is RefusalCode.PICK_MOTION
    assert refusal(plan(grid(actions=("upscale2",)), Animate(image=1))) is RefusalCode.NOT_OFFERED
    assert refusal(plan(grid(status=JobStatus.RUNNING), Animate(image=1))) is RefusalCode.GRID_UNFINISHED


# -- the chained video (moved from test_chains: the chain plans with the same rule) -------------------------------


def test_chained_video_reads_the_options_and_falls_back_to_defaults() -> None:
    chained = upscale(
        prompt="  a heron  ",
        raw_image_url=None,
        meta=JobMeta.from_json(
            {"v": 2, "then_animate": {"motion": "wild", "mode": "slow", "resolution": "4k", "loop": "yes"}}
        ),
    )
    made = plan_chained_video(chained)
    assert made is not None and made.meta == JobMeta(chained_from=chained.id)
    assert made.request.to_body() == {
        "action": "generate",
        "prompt": "a heron",
        "image_url": "https://cdn.example/small.png",
        "loop": False,
        "mode": "fast",
        "resolution": "720p",
    }
    empty = plan_chained_video(replace(chained, prompt="", meta=JobMeta(then_animate=VideoOptions(motion="low"))))
    assert empty is not None and isinstance(empty.request, VideoGenerate) and empty.request.prompt == "--motion low"
    assert plan_chained_video(replace(chained, image_url=None)) is None
    assert plan_chained_video(replace(chained, meta=EMPTY_META)) is None
    assert plan_chained_video(replace(chained, status=JobStatus.FAILED)) is None


def test_chained_video_carries_the_end_frame_batch_size_and_owners_locale() -> None:
    options = VideoOptions(
        motion="low", mode="turbo", resolution="480p", end_image_url="https://cdn.example/end.png", batch_size=2
    )
    made = plan_chained_video(upscale(prompt="a heron takes off", meta=JobMeta(then_animate=options, locale="zh-CN")))
    assert made is not None
    assert made.meta == JobMeta(chained_from="up001", motion="low", locale="zh-CN")
    assert made.request.to_body() == {
        "action": "generate",
        "prompt": "a heron takes off --motion low --bs 2",
        "image_url": "https://cdn.example/full.png",
        "end_image_url": "https://cdn.example/end.png",
        "loop": False,
        "mode": "turbo",
        "resolution": "480p",
    }


# -- which actions a result allows, and the words of a refusal ------------------------------------------------------


def test_what_a_result_allows() -> None:
    assert offered(video()) == (ExtendClip(1), ExtendClip(2), ExtendClip(3), ExtendClip(4), Reroll())
    assert offered(video(status=JobStatus.RUNNING)) == ()
    grid_offers = offered(grid(meta=JobMeta(video_grid=True)))  # a /video grid: Animate N as well
    assert ImageAction("upscale1") in grid_offers and Reroll() in grid_offers
    assert Animate(image=2) in grid_offers and Animate() not in grid_offers
    assert not any(isinstance(each, Animate) for each in offered(grid()))
    upscale_offers = offered(upscale())
    assert Animate() in upscale_offers and ImageAction("pan_left") in upscale_offers
    assert all(isinstance(plan(upscale(), each), Plan) for each in upscale_offers)
    assert all(isinstance(plan(grid(meta=JobMeta(video_grid=True)), each), Plan) for each in grid_offers)


def test_button_arguments_are_numbers_or_refused() -> None:
    assert [number(text) for text in ("1", "4", "12", None, "", "x", "01", "-1", "1000")] == [
        1,
        4,
        12,
        0,
        0,
        0,
        0,
        0,
        0,
    ]


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_every_refusal_has_words_in_each_language(locale: str) -> None:
    words = tomllib.loads((LOCALES / f"{locale}.toml").read_text(encoding="utf-8"))["actions"]
    for code in RefusalCode:
        assert code.value in words, f"{locale} has no actions.{code.value}"
        text = Refusal(code, {"limit": 4, "count": 4, "length": "2,001"}).english()
        assert text and "{" not in text


def test_the_planner_and_the_cli_follow_ups_never_load_discord() -> None:
    code = "import sys, bot.followups, bot.cli_followups, bot.jobs.chains; sys.exit('discord' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


def test_a_video_of_one_clip_can_only_have_that_clip_extended() -> None:
    single = video(video_urls=("https://cdn.example/0.mp4",))  # what --bs 1 makes
    outcome = plan(single, ExtendClip(4))
    assert isinstance(outcome, Refusal) and outcome.code is RefusalCode.PICK_CLIP and outcome.params == {"limit": 1}
    extend = planned(plan(single, ExtendClip(1))).request
    assert isinstance(extend, VideoExtend) and extend.video_index == 0
    assert [action for action in offered(single) if isinstance(action, ExtendClip)] == [ExtendClip(1)]
    four = video(video_urls=tuple(f"https://cdn.example/{n}.mp4" for n in range(4)))
    assert len([action for action in offered(four) if isinstance(action, ExtendClip)]) == 4
