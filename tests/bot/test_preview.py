"""The figures of a confirmation card: which jobs ask first, what they cost, and the estimated wait."""

from __future__ import annotations

import pytest

from bot.acedata.models import ImagineAction, ImagineGenerate, VideoExtend, VideoGenerate
from bot.preview import asks_first, estimated_wait, kinds_of, typical, units_of
from bot.quota import Limit, QuotaDecision, Verdict
from bot.settings import Limits, UserSettings
from bot.store import VideoOptions

FAST = VideoGenerate(prompt="waves", image_url="https://example.com/a.png", resolution="480p")
FAST_720P = VideoGenerate(prompt="waves", image_url="https://example.com/a.png", resolution="720p")
TURBO = VideoGenerate(prompt="waves", image_url="https://example.com/a.png", mode="turbo")
TURBO_EXTEND = VideoExtend(video_id="v", video_index=0, mode="turbo")
GRID = ImagineGenerate(prompt="a fox")
UPSCALE = ImagineAction(action_name="upscale2", image_id="i")


@pytest.mark.parametrize(
    ("request_", "then_video", "units"),
    [
        (GRID, None, 1),
        (FAST, None, 8),
        (FAST_720P, None, 8),
        (TURBO, None, 16),
        (TURBO_EXTEND, None, 16),
        (UPSCALE, VideoOptions(mode="fast"), 9),  # Animate N: the upscale, then its video without another click
        (UPSCALE, VideoOptions(mode="turbo"), 17),
    ],
)
def test_units_count_what_a_job_leads_to_by_itself(
    request_: VideoGenerate | VideoExtend | ImagineGenerate | ImagineAction, then_video: VideoOptions | None, units: int
) -> None:
    assert units_of(request_, then_video) == units


def test_by_default_a_turbo_video_asks_and_a_fast_one_does_not() -> None:
    server, member = Limits(), UserSettings()
    assert server.confirm_over == 16
    assert asks_first(units_of(TURBO), server, member)
    assert asks_first(units_of(TURBO_EXTEND), server, member)
    assert not asks_first(units_of(FAST_720P), server, member)
    assert not asks_first(units_of(GRID), server, member)


def test_a_member_can_ask_for_more_cards_but_never_fewer() -> None:
    always = UserSettings(confirm="always")
    assert asks_first(1, Limits(), always)
    assert asks_first(1, Limits(confirm_over=None), always)
    assert not asks_first(100, Limits(confirm_over=None), UserSettings())  # the server asks for none
    assert asks_first(1, Limits(confirm_over=0), UserSettings())  # 0: every job


def test_a_threshold_is_a_finite_number_of_units() -> None:
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="confirmed"):
            Limits(confirm_over=bad)
    assert Limits.from_dict({"confirm_over": None}).confirm_over is None
    assert Limits.from_dict({}).confirm_over == 16
    assert Limits.from_dict({"confirm_over": "lots"}).confirm_over == 16  # unusable: the default
    assert UserSettings.from_dict({"confirm": "sometimes"}).confirm == "server"


def test_the_wait_is_the_typical_run_after_the_turns_in_the_members_queue() -> None:
    assert typical([[10.0, 30.0, 20.0]]) == (20.0, 3)
    assert typical([[10.0, 30.0], [100.0]]) == (120.0, 1)  # a chain adds its steps up
    assert typical([[10.0], []]) == (None, 0)  # a step with nothing to go by: no estimate
    assert kinds_of(UPSCALE, VideoOptions()) == ("imagine", "video") and kinds_of(TURBO) == ("video",)

    allowed = QuotaDecision(Verdict.ALLOW)
    assert estimated_wait(60.0, allowed) == 60.0
    assert estimated_wait(None, allowed) is None
    first_in_line = QuotaDecision(Verdict.QUEUE, Limit.RUNNING, used=1, maximum=1, ahead=0)
    assert estimated_wait(60.0, first_in_line) == 120.0  # one running job to wait for, then its own run
    third_of_two_slots = QuotaDecision(Verdict.QUEUE, Limit.RUNNING, used=2, maximum=2, ahead=2)
    assert estimated_wait(60.0, third_of_two_slots) == 180.0  # two turns, then its own run
