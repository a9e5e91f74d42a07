"""A member's presets: the settings of a result, saved under a name, to start /video or /imagine from again.

A preset is a copy of settings and text only: the words of the prompt, its Midjourney parameters, the mode, and
for a video the resolution and loop. It never carries a frame: the start and end frames of the job are left out,
and so is every link in the prompt (Midjourney prompts may begin with image links, and ``--end`` and ``--sref``
take them), since a link of someone's job is not a setting and Discord's links expire anyway.

A member keeps at most ``MAX_PRESETS`` of them, in their settings (``UserSettings.presets``), named 1 to
``MAX_NAME_CHARS`` characters; names are matched without regard to case, and saving under a name in use replaces
that preset. :func:`apply_preset` says what a preset gives a command, and what of it the command cannot use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from bot.acedata.models import (
    IMAGINE_MODES,
    RESOLUTIONS,
    VIDEO_MODES,
    ImagineAction,
    ImagineGenerate,
    Resolution,
    VideoExtend,
    VideoGenerate,
)
from bot.store.models import Job, JobStatus
from bot.text import shorten, strip_invisible

log = logging.getLogger(__name__)

#: How many presets a member may keep.
MAX_PRESETS: Final = 25
#: The longest name of a preset (Discord shows autocomplete choices of up to 100 characters).
MAX_NAME_CHARS: Final = 40
#: The longest prompt text or parameter string a preset keeps (a prompt is at most 2,000 characters).
MAX_TEXT_CHARS: Final = 2000

Command = Literal["video", "imagine"]
COMMANDS: Final[tuple[Command, ...]] = ("video", "imagine")
#: Parameters only a video understands; an image grid has no use for them.
VIDEO_ONLY_PARAMETERS: Final = frozenset({"motion", "loop", "bs"})
#: Parameters a video made from a start frame understands (Midjourney refuses image parameters there).
VIDEO_PARAMETERS: Final = VIDEO_ONLY_PARAMETERS | {"raw"}
#: Parameters that name a frame: never kept, whatever they hold.
FRAME_PARAMETERS: Final = frozenset({"end", "video"})
#: The short name of parameters that have two.
_ALIASES: Final = {"aspect": "ar", "stylize": "s", "chaos": "c", "quality": "q", "version": "v"}


class PresetError(ValueError):
    """A preset cannot be saved or found; ``key`` and ``params`` name the member's message (``presets.*``)."""

    def __init__(self, message: str, *, key: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.params: dict[str, object] = dict(params or {})


@dataclass(frozen=True, slots=True)
class Preset:
    """Settings saved under a name. ``source`` is what the result was (a video, or images); ``job_id`` the job."""

    name: str
    source: Command
    prompt: str = ""
    parameters: str = ""
    mode: str | None = None
    resolution: Resolution | None = None
    loop: bool | None = None
    job_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "source": self.source}
        optional = (
            ("prompt", self.prompt or None),
            ("parameters", self.parameters or None),
            ("mode", self.mode),
            ("resolution", self.resolution),
            ("loop", self.loop),
            ("job", self.job_id),
        )
        data.update((key, value) for key, value in optional if value is not None)
        return data

    @classmethod
    def from_json(cls, data: object) -> Preset | None:
        """The preset in ``data``; None when it has no usable name. A part of the wrong type is left out, and any
        link is taken out again (a preset is settings and text only, however it was written)."""
        if not isinstance(data, Mapping):
            return None
        try:
            name = clean_name(data.get("name"))
        except PresetError:
            return None
        source = data.get("source")
        words, parameters = split_prompt(f"{_text(data.get('prompt'))} {_text(data.get('parameters'))}")
        mode, resolution, loop = data.get("mode"), data.get("resolution"), data.get("loop")
        job = data.get("job")
        return cls(
            name=name,
            source="imagine" if source == "imagine" else "video",
            prompt=words,
            parameters=parameters,
            mode=mode if mode in IMAGINE_MODES else None,
            resolution=next((known for known in RESOLUTIONS if known == resolution), None),
            loop=loop if isinstance(loop, bool) else None,
            job_id=job if isinstance(job, str) and job.isalnum() else None,
        )

    @property
    def full_prompt(self) -> str:
        return " ".join(part for part in (self.prompt, self.parameters) if part)


def _text(value: object) -> str:
    return value[:MAX_TEXT_CHARS] if isinstance(value, str) else ""


def presets_from_json(items: Iterable[object]) -> tuple[Preset, ...]:
    """The presets of a stored list; an unusable entry is dropped (with a warning), the others kept."""
    presets: list[Preset] = []
    for item in items:
        preset = Preset.from_json(item)
        if preset is None:
            log.warning("a stored preset is unusable (%.80r); dropped", item)
        elif find(presets, preset.name) is None:
            presets.append(preset)
    return tuple(presets)


# -- names ------------------------------------------------------------------------------------------------------


def clean_name(name: object) -> str:
    """A preset's name as kept: invisible characters out, white space collapsed; PresetError if it is empty or
    longer than ``MAX_NAME_CHARS``."""
    text = " ".join(strip_invisible(name).split()) if isinstance(name, str) else ""
    if not text:
        raise PresetError(
            f"A preset needs a name of 1 to {MAX_NAME_CHARS} characters.",
            key="presets.name_empty",
            params={"limit": MAX_NAME_CHARS},
        )
    if len(text) > MAX_NAME_CHARS:
        raise PresetError(
            f"A preset's name can be at most {MAX_NAME_CHARS} characters; this one has {len(text)}.",
            key="presets.name_too_long",
            params={"limit": MAX_NAME_CHARS, "length": len(text)},
        )
    return text


def find(presets: Iterable[Preset], name: str) -> Preset | None:
    """The preset called ``name`` (in any case), or None."""
    wanted = " ".join(name.split()).casefold()
    return next((preset for preset in presets if preset.name.casefold() == wanted), None)


def with_preset(presets: Sequence[Preset], preset: Preset) -> tuple[tuple[Preset, ...], bool]:
    """``presets`` with ``preset`` saved, and whether it replaced one of the same name (in its place).

    PresetError when the member already keeps ``MAX_PRESETS`` others.
    """
    earlier = find(presets, preset.name)
    if earlier is not None:
        return tuple(preset if kept is earlier else kept for kept in presets), True
    if len(presets) >= MAX_PRESETS:
        raise PresetError(
            f"You already keep {MAX_PRESETS} presets, the most there can be. Delete one you no longer use "
            "with `/settings delete_preset:`, or save under the name of one to replace it.",
            key="presets.limit",
            params={"limit": MAX_PRESETS},
        )
    return (*presets, preset), False


def without_preset(presets: Sequence[Preset], name: str) -> tuple[tuple[Preset, ...], Preset]:
    """``presets`` without the one called ``name``, and that one; PresetError when there is none."""
    found = find(presets, name)
    if found is None:
        raise unknown(name)
    return tuple(kept for kept in presets if kept is not found), found


def unknown(name: str) -> PresetError:
    shown = shorten(" ".join(name.split()), MAX_NAME_CHARS + 10)
    return PresetError(
        f"You have no preset called `{shown}`. `/settings presets:True` lists yours; save one with 💾 on a result.",
        key="presets.unknown",
        params={"name": shown},
    )


# -- prompts ----------------------------------------------------------------------------------------------------


def _parameter_name(token: str) -> str:
    name = token[2:].lower()
    return _ALIASES.get(name, name)


def _is_link(token: str) -> bool:
    return "://" in token


def parameter_groups(text: str) -> list[tuple[str, list[str]]]:
    """The ``--name value...`` groups of a prompt, in order, as (short name, tokens of the group)."""
    groups: list[tuple[str, list[str]]] = []
    for token in text.split():
        if token.startswith("--") and len(token) > 2:
            groups.append((_parameter_name(token), [token]))
        elif groups:
            groups[-1][1].append(token)
    return groups


def split_prompt(prompt: str) -> tuple[str, str]:
    """A prompt's words and its Midjourney parameters, without any link (and without the frame parameters)."""
    tokens = strip_invisible(prompt).split()
    first = next((i for i, token in enumerate(tokens) if token.startswith("--") and len(token) > 2), len(tokens))
    words = " ".join(token for token in tokens[:first] if not _is_link(token))
    kept: list[str] = []
    for name, group in parameter_groups(" ".join(tokens[first:])):
        values = [token for token in group[1:] if not _is_link(token)]
        if name in FRAME_PARAMETERS or (len(values) < len(group) - 1 and not values):
            continue  # a frame, or a parameter that held nothing but links
        kept.append(" ".join([group[0], *values]))
    return words[:MAX_TEXT_CHARS], " ".join(kept)[:MAX_TEXT_CHARS]


def default_name(job: Job) -> str:
    """The name a result's settings are saved under when none is given: its first words, else its job id."""
    words, _ = split_prompt(job.prompt)
    if not words:
        return f"job {job.id}"[:MAX_NAME_CHARS]
    if len(words) <= MAX_NAME_CHARS:
        return words
    cut = words[: MAX_NAME_CHARS + 1].rsplit(" ", 1)[0]
    return (cut if 0 < len(cut) <= MAX_NAME_CHARS else words[:MAX_NAME_CHARS]).rstrip()


def savable(job: Job) -> bool:
    """Whether a result's settings can be saved as a preset: it succeeded, and its request is known."""
    return job.status is JobStatus.SUCCEEDED and job.request is not None


def preset_of(job: Job, name: str) -> Preset | None:
    """The settings of ``job``'s result as a preset called ``name`` (already clean); None when its request is
    unknown. A video made from an image job (a /video grid, Animate) takes that video's options."""
    request = job.request
    resolution: Resolution | None = None
    loop: bool | None = None
    extra: list[str] = []
    source: Command = "video"
    mode: str
    if isinstance(request, VideoGenerate):
        prompt, mode, resolution, loop = request.prompt, request.mode, request.resolution, request.loop
    elif isinstance(request, VideoExtend):
        prompt, mode, resolution = request.prompt or job.prompt, request.mode, request.resolution
    elif isinstance(request, ImagineGenerate | ImagineAction):
        prompt, mode = job.prompt, request.mode
        options = job.meta.then_animate or job.meta.video_options
        if options is None:
            source = "imagine"
        else:
            mode, resolution, loop = options.mode, options.resolution, options.loop
            extra += [f"--motion {options.motion}"] if options.motion else []
            extra += [f"--bs {options.batch_size}"] if options.batch_size else []
    else:
        return None
    words, parameters = split_prompt(prompt)
    named = {group for group, _ in parameter_groups(parameters)}
    parameters = " ".join([parameters, *(part for part in extra if _parameter_name(part.split()[0]) not in named)])
    return Preset(
        name=name,
        source=source,
        prompt=words,
        parameters=parameters.strip(),
        mode=mode,
        resolution=resolution,
        loop=loop,
        job_id=job.id,
    )


# -- using a preset ---------------------------------------------------------------------------------------------

IgnoredKind = Literal["parameter", "mode", "resolution", "loop"]


@dataclass(frozen=True, slots=True)
class Ignored:
    """A part of a preset that a command cannot use: a parameter (``--motion low``), a mode, a resolution, a loop."""

    kind: IgnoredKind
    value: str = ""


@dataclass(frozen=True, slots=True)
class Applied:
    """What a preset gives a command. ``prompt`` is None when neither the member nor the preset has one; ``mode``,
    ``resolution`` and ``loop`` are None where the preset says nothing the command can use."""

    prompt: str | None
    mode: str | None = None
    resolution: Resolution | None = None
    loop: bool | None = None
    ignored: tuple[Ignored, ...] = ()


def apply_preset(preset: Preset, command: Command, *, prompt: str | None, start_frame: bool = False) -> Applied:
    """``preset`` for ``command``, under what the member gave: their prompt replaces the preset's words, and each
    parameter their prompt names replaces the preset's. A parameter the command cannot use is left out, as is a
    mode it does not have (relax for a video) and, for /imagine, a video's resolution and loop; ``ignored`` lists
    them. A video from a start frame takes only the video's own parameters (``VIDEO_PARAMETERS``)."""
    given = {name for name, _ in parameter_groups(prompt or "")}
    ignored: list[Ignored] = []
    kept: list[str] = []
    for name, group in parameter_groups(preset.parameters):
        if name in given:
            continue
        text = " ".join(group)
        if command == "imagine":
            usable = name not in VIDEO_ONLY_PARAMETERS
        else:
            usable = not start_frame or name in VIDEO_PARAMETERS
        if usable:
            kept.append(text)
        else:
            ignored.append(Ignored("parameter", text))
    words = prompt if prompt is not None and prompt.strip() else preset.prompt
    text = " ".join(part for part in (words.strip(), *kept) if part)
    modes = VIDEO_MODES if command == "video" else IMAGINE_MODES
    mode = preset.mode if preset.mode in modes else None
    if preset.mode is not None and mode is None:
        ignored.append(Ignored("mode", preset.mode))
    if command == "video":
        return Applied(text or None, mode, preset.resolution, preset.loop, tuple(ignored))
    if preset.resolution is not None:
        ignored.append(Ignored("resolution", preset.resolution))
    if preset.loop:
        ignored.append(Ignored("loop"))
    return Applied(text or None, mode, ignored=tuple(ignored))
