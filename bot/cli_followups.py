"""The CLI's follow-up commands: ``extend``, ``reroll``, ``animate``, ``upscale``, ``vary``, ``zoom``, ``pan``.

Each is the follow-up Discord offers as a button or a reaction, planned by the same core rules
(:mod:`bot.followups`: the extend limit, motion, modes and resolutions, what a result allows), and
sent the way ``mjbot extend`` is (:mod:`bot.cli_jobs`). A refusal is printed in English and nothing is
sent. The commands a finished job prints as its next steps come from the same rules.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Final, TextIO

from bot.acedata.models import GRID_SIZE, ApiRequest
from bot.config import Config
from bot.followups import (
    Action,
    Animate,
    ExtendClip,
    ImageAction,
    Refusal,
    RefusalCode,
    Reroll,
    offered,
    plan_for,
)
from bot.options import InputError
from bot.store import JobMeta, OutdatedStoreError, Store
from bot.store.models import Job, JobStatus
from bot.store.store import is_url

#: The follow-up commands besides ``extend`` (which ``bot.cli`` registers with the job commands).
COMMANDS: Final = ("reroll", "animate", "upscale", "vary", "zoom", "pan")
#: How long a finished upscale's command waits for the video its chain submits.
CHAIN_WAIT_S: Final = 30.0
_INDEXES: Final = tuple(str(index) for index in range(1, GRID_SIZE + 1))
_INDEX_HELP: Final = f"the image of a grid, 1 to {GRID_SIZE}"
_ZOOMS: Final = {"2": "zoom_out_2x", "1.5": "zoom_out_1_5x"}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], new_job: argparse.ArgumentParser) -> None:
    """Register the follow-up commands; ``new_job`` carries the options of every command that sends a job."""

    def command(name: str, text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, parents=[new_job], help=text)
        parser.add_argument("job", metavar="JOB", help="the job id that `mjbot jobs` shows")
        return parser

    command("reroll", "make a finished job again: the same video, or a new grid")
    animate = command("animate", "make a video of an upscaled image, or (--index) of one image of a grid")
    animate.add_argument("--index", type=int, choices=range(1, GRID_SIZE + 1), metavar="N", help=_INDEX_HELP)
    animate.add_argument("--motion", choices=("low", "high"), help="replaces any --motion of the prompt")
    upscale = command("upscale", "upscale one image of a grid (--index), or an upscaled image again (--kind)")
    which = upscale.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", choices=_INDEXES, metavar="N", help=_INDEX_HELP)
    which.add_argument("--kind", choices=("2x", "4x"), help="the size of an upscaled image's upscale")
    vary = command("vary", "variations of one image of a grid (--index), or of an upscaled image (--strength)")
    how = vary.add_mutually_exclusive_group(required=True)
    how.add_argument("--index", choices=_INDEXES, metavar="N", help=_INDEX_HELP)
    how.add_argument("--strength", choices=("subtle", "strong"), help="how far an upscaled image's variations go")
    zoom = command("zoom", "zoom out of an upscaled image")
    zoom.add_argument("--factor", choices=tuple(_ZOOMS), required=True, help="how far to zoom out")
    pan = command("pan", "extend an upscaled image in one direction")
    pan.add_argument("--direction", choices=("left", "right", "up", "down"), required=True)


def action_of(args: argparse.Namespace) -> Action:
    """The core action a follow-up command asks for."""
    name = args.command
    if name == "extend":
        return ExtendClip(args.index, args.prompt)
    if name == "reroll":
        return Reroll()
    if name == "animate":
        return Animate(image=args.index, motion=args.motion)
    if name == "upscale":
        return ImageAction(f"upscale{args.index}" if args.index else f"upscale_{args.kind}")
    if name == "vary":
        return ImageAction(f"variation{args.index}" if args.index else f"variation_{args.strength}")
    if name == "zoom":
        return ImageAction(_ZOOMS[args.factor])
    return ImageAction(f"pan_{args.direction}")


async def plan_command(args: argparse.Namespace, config: Config) -> tuple[ApiRequest, str, JobMeta]:
    """The request a follow-up command sends, its parent job and the new job's meta; InputError if it can't."""
    path = config.store.location
    found = is_url(path) or await asyncio.to_thread(Path(path).is_file)
    store = await _open_to_plan(path) if found else None  # planning makes no store, and changes none
    try:
        parent = await store.jobs.get_job(args.job) if store is not None else None
        if parent is None or store is None:
            shown = config.store.shown_url or path
            raise InputError(f"There is no job {args.job!r} in {shown}; `mjbot jobs` lists the jobs.")
        outcome = await plan_for(store.jobs, parent, action_of(args))
    finally:
        if store is not None:
            await store.close()
    if isinstance(outcome, Refusal):
        raise InputError(refusal_text(parent, outcome, flags(args)))
    return outcome.request, parent.id, outcome.meta


async def _open_to_plan(path: str) -> Store:
    """The store, opened to read; one whose schema is older is upgraded, as sending the follow-up would anyway."""
    try:
        return await Store.open(path, read_only=True)
    except OutdatedStoreError:
        return await Store.open(path)


def refusal_text(job: Job, refusal: Refusal, again: str = "") -> str:
    """A refusal as the terminal shows it, with what the job does allow when the action is not one of them."""
    text = f"job {job.id}: {refusal.english()}"
    if refusal.code in (RefusalCode.NOT_OFFERED, RefusalCode.ANIMATE_GRID, RefusalCode.ONLY_VIDEOS):
        steps = next_steps(job, again)
        if steps:
            text += " It allows:" + "".join(f"\n  {step}" for step in steps)
    return text


def flags(args: argparse.Namespace) -> str:
    """This run's ``--api`` and ``--config`` (as ``bot.cli_jobs.again`` adds them to printed commands)."""
    from bot.cli_jobs import again

    return again(args)


#: How a follow-up reads as a command: its title, its words, and the option whose values it offers.
_Step = tuple[str, str, str | None, str | None]


def _step(job: Job, action: Action) -> _Step | None:
    if isinstance(action, ExtendClip):
        return ("Extend a clip", f"mjbot extend {job.id}", "--index", str(action.clip))
    if isinstance(action, Reroll):
        return ("Reroll", f"mjbot reroll {job.id}", None, None)
    if isinstance(action, Animate):
        if action.image is not None:
            return ("Animate", f"mjbot animate {job.id}", "--index", str(action.image))
        return ("Animate", f"mjbot animate {job.id}", "--motion", action.motion or "low")
    return _image_step(job, action.name)


def _image_step(job: Job, name: str) -> _Step | None:
    verb, _, rest = name.partition("_")
    for prefix, title in (("upscale", "Upscale"), ("variation", "Vary")):
        if name.startswith(prefix) and name[len(prefix) :] in _INDEXES:
            return (title, f"mjbot {title.lower()} {job.id}", "--index", name[len(prefix) :])
    if verb == "upscale" and rest in ("2x", "4x"):
        return ("Upscale", f"mjbot upscale {job.id}", "--kind", rest)
    if verb == "variation" and rest in ("subtle", "strong"):
        return ("Vary", f"mjbot vary {job.id}", "--strength", rest)
    zoom = next((factor for factor, action in _ZOOMS.items() if action == name), None)
    if zoom is not None:
        return ("Zoom out", f"mjbot zoom {job.id}", "--factor", zoom)
    if verb == "pan" and rest in ("left", "right", "up", "down"):
        return ("Pan", f"mjbot pan {job.id}", "--direction", rest)
    return None


def next_steps(job: Job, again: str = "") -> list[str]:
    """The commands a finished job allows next, each runnable as printed (with this run's ``again`` flags)."""
    actions = list(offered(job))
    if Animate() in actions:  # both motions, low first
        at = actions.index(Animate())
        actions[at : at + 1] = [Animate(motion="low"), Animate(motion="high")]
    grouped: dict[tuple[str, str, str | None], list[str]] = {}
    for action in actions:
        step = _step(job, action)
        if step is not None:
            title, words, option, value = step
            grouped.setdefault((title, words, option), []).extend([value] if value else [])
    lines = []
    for (title, words, option), values in grouped.items():
        if option is None or not values:
            lines.append(f"{title}: {words}{again}")
        elif len(values) == 1 or title == "Extend a clip":
            lines.append(f"{title}: {words} {option} {values[0]}{again}")
        else:
            lines.append(f"{title} ({option} {'|'.join(values)}): {words} {option} {values[0]}{again}")
    return lines


async def wait_for_chained_video(store: Store, job: Job, out: TextIO, *, wait_s: float = CHAIN_WAIT_S) -> str | None:
    """Wait for the chain to submit the video an upscale made by ``mjbot animate --index`` asks for; its job id
    (None when the job asks for none, or the chain has not submitted it within ``wait_s``)."""
    if job.meta.then_animate is None or job.status is not JobStatus.SUCCEEDED:
        return None
    print(f"Job {job.id} upscaled the image; its video follows.", file=out)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for child in await store.jobs.children(job.id):
            if child.meta.chained_from == job.id:
                print(f"Job {child.id} submitted.", file=out)
                return child.id
        await asyncio.sleep(0.2)
    return None
