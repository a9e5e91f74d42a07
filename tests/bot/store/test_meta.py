"""Job meta's one serialisation, and stored request bodies read back as typed requests."""

from __future__ import annotations

import pytest

from bot.acedata.bodies import request_from_body
from bot.acedata.models import Endpoint, ImagineAction, ImagineGenerate, VideoExtend, VideoGenerate
from bot.store import EMPTY_META, DeliveryState, FrameSource, JobMeta, QueueState, VideoOptions
from bot.store.meta import META_VERSION

EVERYTHING = JobMeta(
    locale="zh-CN",
    chained_from="abcdef1234",
    then_animate=VideoOptions(motion="high", loop=True),
    video_options=VideoOptions(mode="turbo", resolution="480p", end_image_url="https://e/x.png", batch_size=2),
    video_grid=True,
    motion="low",
    clip=3,
    extends=2,
    follow_up="animq:2",
    frames={"image_url": FrameSource("https://s/y.png", copy_on=""), "end_image_url": FrameSource("u", result_of="j")},
    queue=QueueState(limit=2, released_at=1234.5),
    delivery=DeliveryState(dm_sent=True, dm_result=True),
)


def test_every_part_survives_the_round_trip_with_the_version() -> None:
    data = EVERYTHING.to_json()
    assert data["v"] == META_VERSION
    assert JobMeta.from_json(data) == EVERYTHING


def test_an_empty_meta_is_stored_as_an_empty_object() -> None:
    assert EMPTY_META.to_json() == {} and JobMeta.from_json({}) == EMPTY_META
    assert not EMPTY_META and JobMeta(clip=1)


def test_odd_values_are_read_as_absent_or_as_the_option_default() -> None:
    odd = JobMeta.from_json(
        {
            "v": META_VERSION,
            "locale": 5,
            "clip": True,
            "motion": "wild",
            "video_grid": "yes",
            "then_animate": {"mode": "slow", "resolution": "4k", "loop": "yes", "bs": 3, "motion": "wild"},
            "video_options": "turbo",
            "frames": {"image_url": {"copy_on": ""}, "elsewhere": {"url": "u"}},
            "queue": {"limit": "2", "released_at": False},
            "delivery": {"dm_sent": 1},
        }
    )
    assert odd == JobMeta(then_animate=VideoOptions(), queue=QueueState())


def test_fields_of_a_newer_version_are_kept_and_written_back() -> None:
    newer = JobMeta.from_json({"v": META_VERSION + 1, "clip": 2, "sparkle": [1, 2]})
    assert newer.clip == 2 and newer.extra == {"sparkle": [1, 2]}
    assert newer.to_json() == {"v": META_VERSION, "clip": 2, "sparkle": [1, 2]}


@pytest.mark.parametrize(
    ("endpoint", "made"),
    [
        (Endpoint.VIDEOS, VideoGenerate("p", "https://s/a.png", "https://s/b.png", mode="turbo", resolution="480p")),
        (Endpoint.VIDEOS, VideoGenerate("p", "https://s/a.png", loop=True)),
        (Endpoint.VIDEOS, VideoExtend("vid", 2, prompt="more", resolution="720p")),
        (Endpoint.IMAGINE, ImagineGenerate("a fox", mode="relax", translation=True, split_images=True)),
        (Endpoint.IMAGINE, ImagineAction("upscale2", "img-1", prompt="p", mode="turbo")),
    ],
)
def test_a_stored_body_reads_back_as_the_request_that_made_it(
    endpoint: Endpoint, made: VideoGenerate | VideoExtend | ImagineGenerate | ImagineAction
) -> None:
    assert request_from_body(endpoint, made.to_body()) == made


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        (Endpoint.VIDEOS, {"mode": "fast"}),  # no action
        (Endpoint.VIDEOS, {"action": "generate", "prompt": "p", "image_url": "u", "mode": "slow"}),
        (Endpoint.VIDEOS, {**VideoExtend("vid", 1).to_body(), "video_index": "1"}),
        (Endpoint.IMAGINE, {**ImagineGenerate("p").to_body(), "extra": 1}),  # a body this client never makes
        (Endpoint.IMAGINE, VideoExtend("vid", 1).to_body()),  # the wrong endpoint
    ],
)
def test_a_body_that_no_request_makes_reads_as_none(endpoint: Endpoint, body: dict[str, object]) -> None:
    assert request_from_body(endpoint, body) is None
