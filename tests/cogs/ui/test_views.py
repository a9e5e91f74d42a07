"""One rule set decides what a result allows: its buttons, the reactions that act on it and the CLI commands
it accepts are the follow-ups ``bot.followups.offered`` lists, for every kind of result."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from test_render import imagine_done, make_job, video_done

from bot.acedata.models import GRID_ACTIONS, UPSCALED_ACTIONS, VideoExtend
from bot.cli import build_parser
from bot.cli_followups import action_of
from bot.followups import Action, ExtendClip, Plan, Reroll, normalized, offered, plan
from bot.store import JobMeta
from bot.store.models import Job, JobKind, JobStatus
from cogs.common import FollowUpKind
from cogs.plans import action_for
from cogs.reactions import REACTIONS, follow_up_for
from cogs.ui.components import FollowUpButton
from cogs.ui.views import job_view

JOB = "j0b1d2e3f4"
#: Every follow-up command the CLI parses (``mjbot COMMAND JOB ...``).
CLI_COMMANDS = (
    *(["extend", JOB, "--index", str(n)] for n in range(1, 5)),
    ["reroll", JOB],
    ["animate", JOB],
    *(["animate", JOB, "--motion", motion] for motion in ("low", "high")),
    *(["animate", JOB, "--index", str(n)] for n in range(1, 5)),
    *(["upscale", JOB, "--index", str(n)] for n in range(1, 5)),
    *(["upscale", JOB, "--kind", kind] for kind in ("2x", "4x")),
    *(["vary", JOB, "--index", str(n)] for n in range(1, 5)),
    *(["vary", JOB, "--strength", strength] for strength in ("subtle", "strong")),
    *(["zoom", JOB, "--factor", factor] for factor in ("2", "1.5")),
    *(["pan", JOB, "--direction", direction] for direction in ("left", "right", "up", "down")),
)
_SUBMITTING = {
    FollowUpKind.EXTEND,
    FollowUpKind.REROLL,
    FollowUpKind.IMAGE,
    FollowUpKind.ANIMATE,
    FollowUpKind.ANIMATE_QUADRANT,
}


def results() -> dict[str, Job]:
    imagine: dict[str, Any] = {"params": {"action": "generate", "prompt": "a lighthouse", "mode": "fast"}}
    extend = VideoExtend("vid-0", 1, prompt="waves").to_body()
    failed: dict[str, Any] = {"finished_at": 1.0, "error_code": "forbidden"}
    return {
        "video": video_done(),
        "video of two clips": video_done(video_urls=video_done().video_urls[:2]),
        "extension": video_done(action="extend", params=extend, meta=JobMeta(clip=2, extends=1)),
        "grid": imagine_done(GRID_ACTIONS, **imagine),
        "video grid": imagine_done(GRID_ACTIONS, meta={"video_grid": True}, **imagine),
        "variation": imagine_done(GRID_ACTIONS, action="variation3"),
        "upscale": imagine_done(UPSCALED_ACTIONS, action="upscale2"),
        "upscale of an upscale": imagine_done(UPSCALED_ACTIONS[2:], action="upscale_4x"),
        "zoomed out": imagine_done(GRID_ACTIONS[:4], action="zoom_out_2x"),
        "failed video": make_job(status=JobStatus.FAILED, **failed),
        "refused grid": make_job(kind=JobKind.IMAGINE, status=JobStatus.FAILED, **imagine, **failed),
        "timed out extension": make_job(action="extend", params=extend, status=JobStatus.TIMED_OUT, **failed),
        "running video": make_job(),
        "queued grid": make_job(kind=JobKind.IMAGINE, status=JobStatus.QUEUED, **imagine),
    }


def buttons_of(job: Job) -> set[Action]:
    view = job_view(job)
    follow_ups = [item.follow_up for item in (view.children if view else []) if isinstance(item, FollowUpButton)]
    manual = any(follow_up.kind is FollowUpKind.EXTEND_MANUAL for follow_up in follow_ups)
    actions = {normalized(action_for(f)) for f in follow_ups if f.kind in _SUBMITTING}
    # ✏️ Extend… picks one of the clips the Extend N buttons offer: it is there exactly when they are.
    assert manual == any(isinstance(action, ExtendClip) for action in actions)
    return actions


def reactions_of(job: Job) -> set[Action]:
    acting = (follow_up_for(discord.PartialEmoji(name=emoji), job) for emoji in REACTIONS)
    return {normalized(action_for(f)) for f in acting if f is not None and f.kind in _SUBMITTING}


def cli_accepts(job: Job) -> set[Action]:
    parser = build_parser()
    actions = (action_of(parser.parse_args(argv)) for argv in CLI_COMMANDS)
    return {normalized(action) for action in actions if isinstance(plan(job, action), Plan)}


@pytest.mark.parametrize(("name", "job"), results().items(), ids=list(results()))
def test_buttons_reactions_and_the_cli_offer_the_same_follow_ups(name: str, job: Job) -> None:
    allowed = set(offered(job))
    assert buttons_of(job) == allowed, name
    assert cli_accepts(job) == allowed, name
    # Reactions say less (1️⃣-4️⃣ and 🔄), and act on exactly what of that is offered.
    assert reactions_of(job) == {action for action in allowed if isinstance(action, ExtendClip | Reroll)}, name


def test_what_each_kind_of_result_offers_reads_as_members_know_it() -> None:
    made = {name: {type(action).__name__ for action in offered(job)} for name, job in results().items()}
    assert made["upscale"] == {"Animate", "ImageAction"}  # no 🔄 on an upscale: the API offers none
    assert made["grid"] == {"ImageAction", "Reroll"} and made["video grid"] == {"Animate", "ImageAction", "Reroll"}
    assert made["failed video"] == made["refused grid"] == made["timed out extension"] == {"Reroll"}
    assert made["running video"] == made["queued grid"] == set()
    assert made["extension"] == made["video"] == {"ExtendClip", "Reroll"}
