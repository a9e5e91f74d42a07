"""What the bot keeps with a job and never sends to the API: typed parts, with one versioned JSON form.

``JobMeta.to_json`` and ``JobMeta.from_json`` are the only code that knows the stored keys; the SQL of
the store that reads a path inside the JSON (``then_animate``, ``chained_from``, ``queue``) follows the
same form. An empty ``JobMeta`` is stored as ``{}`` (most jobs carry nothing), anything else with
``"v": META_VERSION``. Migration 5 carried the first, unversioned form into this one.

Reading is lenient: a part whose value is not what this version writes is read as absent (an option
value it does not know as the option's default), so that one odd row never stops a job from loading.
Top-level fields that this version does not know (written by a newer one) are kept in ``extra`` and
written back as they were.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from bot.acedata.models import RESOLUTIONS, VIDEO_MODES, Resolution, VideoMode

#: The version of the JSON form written by ``JobMeta.to_json``.
META_VERSION: Final = 2

Motion = Literal["low", "high"]
MOTIONS: Final[tuple[Motion, ...]] = ("low", "high")
#: Clips per video that ``--bs`` may ask for.
BATCH_SIZES: Final = (1, 2, 4)
#: The request fields that carry a frame (the keys of ``JobMeta.frames``).
FRAME_FIELDS: Final = ("image_url", "end_image_url")

_NOTHING: Final[Mapping[str, Any]] = MappingProxyType({})


def _motion(value: object) -> Motion | None:
    for motion in MOTIONS:
        if value == motion:
            return motion
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """The options of a video made later from an image job (/video without a start frame, Animate, Animate N).

    ``batch_size`` is ``--bs`` (clips per video); ``end_image_url`` is ``--end``.
    """

    mode: VideoMode = "fast"
    resolution: Resolution = "720p"
    loop: bool = False
    motion: Motion | None = None
    end_image_url: str | None = None
    batch_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": self.mode, "resolution": self.resolution, "loop": self.loop}
        if self.motion is not None:
            data["motion"] = self.motion
        if self.end_image_url is not None:
            data["end_image_url"] = self.end_image_url
        if self.batch_size is not None:
            data["bs"] = self.batch_size
        return data

    @classmethod
    def from_json(cls, data: object) -> VideoOptions | None:
        """The options in ``data`` (the /video options as a dict); None when it is not an object."""
        options = _mapping(data)
        if options is None:
            return None
        mode = options.get("mode")
        resolution = options.get("resolution")
        size = options.get("bs")
        return cls(
            mode=next((known for known in VIDEO_MODES if known == mode), "fast"),
            resolution=next((known for known in RESOLUTIONS if known == resolution), "720p"),
            loop=options.get("loop") is True,
            motion=_motion(options.get("motion")),
            end_image_url=_text(options.get("end_image_url")),
            batch_size=size if size in BATCH_SIZES and not isinstance(size, bool) else None,
        )


@dataclass(frozen=True, slots=True)
class FrameSource:
    """Where one frame a job sent can be found again (``bot.frames`` says how each is used).

    ``copy_on`` is the job whose messages carry the bot's copy (``""``: the job that holds this source);
    ``result_of`` is the job whose result image the frame is. ``url`` is the link last sent.
    """

    url: str
    copy_on: str | None = None
    result_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: object) -> FrameSource | None:
        source = _mapping(data)
        if source is None or not isinstance(source.get("url"), str):
            return None
        copy_on = source.get("copy_on")
        return cls(
            url=source["url"],
            copy_on=copy_on if isinstance(copy_on, str) else None,
            result_of=_text(source.get("result_of")),
        )


@dataclass(frozen=True, slots=True)
class QueueState:
    """A job that waited in its owner's queue: the running-jobs limit it waited for, and when it was released."""

    limit: int | None = None
    released_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.limit is not None:
            data["limit"] = self.limit
        if self.released_at is not None:
            data["released_at"] = self.released_at
        return data

    @classmethod
    def from_json(cls, data: object) -> QueueState | None:
        state = _mapping(data)
        if state is None:
            return None
        return cls(limit=_integer(state.get("limit")), released_at=_number(state.get("released_at")))


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """Where a job's result went beyond its messages.

    ``dm_sent``: the result was sent to the owner's DMs. ``dm_result``: a private job whose message could not be
    made; its result goes to the owner's DMs when done.
    """

    dm_sent: bool = False
    dm_result: bool = False

    def to_json(self) -> dict[str, Any]:
        return {name: True for name in ("dm_sent", "dm_result") if getattr(self, name)}

    @classmethod
    def from_json(cls, data: object) -> DeliveryState:
        state = _mapping(data) or _NOTHING
        return cls(dm_sent=state.get("dm_sent") is True, dm_result=state.get("dm_result") is True)


_NO_DELIVERY: Final = DeliveryState()


@dataclass(frozen=True, slots=True)
class JobMeta:
    """The bot's own notes on a job: what it was made from and for, and what happened to it outside the API.

    - ``locale``: the owner's locale; the job's messages are worded in it.
    - ``chained_from``: the upscale whose Animate N chain made this video (it takes over the upscale's messages).
    - ``then_animate``: an upscale to be animated into a video with these options once it succeeds (Animate N).
    - ``video_options``: the /video options a later video step from this image job uses.
    - ``video_grid``: a grid made by /video (it gets the Animate buttons).
    - ``motion``: the motion an Animate chose for this video.
    - ``clip``: the clip (1-based) an extend continues.
    - ``extends``: how many extensions a video is made of (itself included), recorded when an extension or its
      reroll is planned; None on a job made before it was recorded (the count is then read from its ancestors).
    - ``follow_up``: the follow-up that made this job (``kind:arg``), to recognise a double click.
    - ``frames``: where each frame the job sent can be found again, by request field (``FRAME_FIELDS``).
    - ``queue``: set on a job put in its owner's queue.
    - ``delivery``: whether the result went to the owner's DMs.
    - ``gallery_post``: the message that shows this result in its server's gallery (posted once).
    """

    locale: str | None = None
    chained_from: str | None = None
    then_animate: VideoOptions | None = None
    video_options: VideoOptions | None = None
    video_grid: bool = False
    motion: Motion | None = None
    clip: int | None = None
    extends: int | None = None
    follow_up: str | None = None
    frames: Mapping[str, FrameSource] = field(default_factory=dict)
    queue: QueueState | None = None
    delivery: DeliveryState = _NO_DELIVERY
    gallery_post: int | None = None
    #: Fields of a newer version that this one does not know, kept as they were.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self != EMPTY_META

    def to_json(self) -> dict[str, Any]:
        """The stored form: ``{}`` for an empty meta, else an object with ``"v": META_VERSION``."""
        if not self:
            return {}
        data: dict[str, Any] = {**self.extra, "v": META_VERSION}
        simple = (
            ("locale", self.locale),
            ("chained_from", self.chained_from),
            ("motion", self.motion),
            ("clip", self.clip),
            ("extends", self.extends),
            ("follow_up", self.follow_up),
            ("gallery_post", self.gallery_post),
        )
        data.update((key, value) for key, value in simple if value is not None)
        if self.video_grid:
            data["video_grid"] = True
        for key, part in (("then_animate", self.then_animate), ("video_options", self.video_options)):
            if part is not None:
                data[key] = part.to_json()
        if self.frames:
            data["frames"] = {name: source.to_json() for name, source in self.frames.items()}
        if self.queue is not None:
            data["queue"] = self.queue.to_json()
        if self.delivery != _NO_DELIVERY:
            data["delivery"] = self.delivery.to_json()
        return data

    def with_delivery(self, *, dm_sent: bool | None = None, dm_result: bool | None = None) -> JobMeta:
        """A copy with the DM notes that are given changed (the others as they were)."""
        delivery = DeliveryState(
            dm_sent=self.delivery.dm_sent if dm_sent is None else dm_sent,
            dm_result=self.delivery.dm_result if dm_result is None else dm_result,
        )
        return dataclasses.replace(self, delivery=delivery)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobMeta:
        """Read the stored form (see the module's notes on what is read leniently and what is kept)."""
        if not data:
            return EMPTY_META
        frames = _mapping(data.get("frames")) or _NOTHING
        found = {name: FrameSource.from_json(frames.get(name)) for name in FRAME_FIELDS}
        return cls(
            locale=_text(data.get("locale")),
            chained_from=_text(data.get("chained_from")),
            then_animate=VideoOptions.from_json(data.get("then_animate")),
            video_options=VideoOptions.from_json(data.get("video_options")),
            video_grid=data.get("video_grid") is True,
            motion=_motion(data.get("motion")),
            clip=_integer(data.get("clip")),
            extends=_integer(data.get("extends")),
            follow_up=_text(data.get("follow_up")),
            frames=MappingProxyType({name: source for name, source in found.items() if source is not None}),
            queue=QueueState.from_json(data.get("queue")),
            delivery=DeliveryState.from_json(data.get("delivery")),
            gallery_post=_integer(data.get("gallery_post")),
            extra=MappingProxyType({key: value for key, value in data.items() if key not in _KNOWN}),
        )


_KNOWN: Final = frozenset({part.name for part in dataclasses.fields(JobMeta)} | {"v"}) - {"extra"}
EMPTY_META: Final = JobMeta()
