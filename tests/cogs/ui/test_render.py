"""A job as a message: the embed a member reads and the buttons they may press, for every state."""

from __future__ import annotations

import time
from typing import Any

import discord
import pytest

from bot.acedata.models import GRID_ACTIONS, UPSCALED_ACTIONS, ImagineGenerate, VideoExtend, VideoGenerate
from bot.store import JobMeta
from bot.store.models import Job, JobKind, JobStatus
from cogs.common import FollowUp, FollowUpKind
from cogs.ui.components import FollowUpButton
from cogs.ui.render import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    SANDBOX_NOTE,
    TOO_LARGE_NOTE,
    RenderedJob,
    job_title,
    job_view,
    render_job,
)

NOW = 1_750_000_000.0
JOB_ID = "j0b1d2e3f4"
#: The longest id the custom id pattern accepts.
LONGEST_JOB_ID = "z" * 16
CLIPS = tuple(f"https://cdn.example/v/{n}.mp4" for n in range(1, 5))
COVER = "https://cdn.example/v/cover.png"
GRID = "https://cdn.example/i/grid.png"


def make_job(**changes: Any) -> Job:
    fields: dict[str, Any] = {
        "id": JOB_ID,
        "kind": JobKind.VIDEO,
        "action": "generate",
        "prompt": "waves crash on rocks",
        "params": VideoGenerate("waves crash on rocks", "https://img.example/s.png").to_body(),
        "status": JobStatus.RUNNING,
        "progress": 0,
        "created_at": NOW - 65,
        "updated_at": NOW,
        "submitted_at": NOW - 60,
        "user_id": 1234,
        "guild_id": 99,
        "channel_id": 98,
    }
    meta = changes.get("meta")
    if isinstance(meta, dict):  # the stored form, read as the store reads it
        changes["meta"] = JobMeta.from_json(meta)
    return Job(**{**fields, **changes})


def video_done(**changes: Any) -> Job:
    done: dict[str, Any] = {
        "status": JobStatus.SUCCEEDED,
        "progress": 100,
        "finished_at": NOW,
        "video_id": "vid-1",
        "video_urls": CLIPS,
        "image_url": COVER,
    }
    return make_job(**{**done, **changes})


def imagine_done(actions: tuple[str, ...], **changes: Any) -> Job:
    done: dict[str, Any] = {
        "kind": JobKind.IMAGINE,
        "prompt": "a lighthouse",
        "params": {"action": "generate", "prompt": "a lighthouse", "mode": "fast"},
        "status": JobStatus.SUCCEEDED,
        "progress": 100,
        "finished_at": NOW,
        "image_id": "img-1",
        "image_url": GRID,
        "actions": actions,
    }
    return make_job(**{**done, **changes})


def render(job: Job, **options: Any) -> RenderedJob:
    options.setdefault("owner_name", "Alice")
    options.setdefault("sandbox", False)
    options.setdefault("now", NOW)
    return render_job(job, **options)


def buttons(view: discord.ui.View | None) -> list[FollowUpButton]:
    assert view is not None
    items = list(view.children)
    assert all(isinstance(item, FollowUpButton) for item in items)
    return [item for item in items if isinstance(item, FollowUpButton)]


def rows(view: discord.ui.View | None) -> list[list[tuple[str | None, str | None, FollowUp]]]:
    """The buttons as Discord lays them out: rows of (emoji, label, follow-up)."""
    assert view is not None
    by_id = {button.custom_id: button for button in buttons(view)}
    laid_out = []
    for row in view.to_components():
        assert row["type"] == 1 and 1 <= len(row["components"]) <= 5
        laid_out.append(
            [
                ((c.get("emoji") or {}).get("name"), c.get("label"), by_id[c["custom_id"]].follow_up)
                for c in row["components"]
            ]
        )
    assert len(laid_out) <= 5
    return laid_out


def follow_ups(view: discord.ui.View | None) -> list[FollowUp]:
    return [button.follow_up for button in buttons(view)]


def check_limits(rendered: RenderedJob) -> None:
    """Everything Discord checks on a message's embeds and buttons."""
    assert len(rendered.embeds) == 1
    embed = rendered.embeds[0].to_dict()
    assert len(embed.get("title", "")) <= 256
    assert len(embed.get("description", "")) <= DESCRIPTION_LIMIT
    assert len(embed.get("footer", {}).get("text", "")) <= 2048
    assert len(embed.get("author", {}).get("name", "")) <= 256
    fields = embed.get("fields", [])
    assert len(fields) <= 25
    for field in fields:
        assert 0 < len(field["name"]) <= 256 and 0 < len(field["value"]) <= 1024
    assert len(rendered.embeds[0]) <= EMBED_TOTAL_LIMIT
    if rendered.view is not None:
        for button in buttons(rendered.view):
            assert len(button.custom_id) < 100
            assert FollowUp.parse(button.custom_id) == button.follow_up
        rows(rendered.view)


# -- progress ------------------------------------------------------------------------------------------------


def test_running_job_shows_a_progress_bar_a_live_elapsed_time_and_the_time_left() -> None:
    rendered = render(make_job(progress=30))
    embed = rendered.embeds[0]
    assert embed.title == "🎬 Video"
    assert embed.description is not None
    assert "▰▰▰▱▱▱▱▱▱▱ 30%" in embed.description
    assert f"started <t:{int(NOW - 60)}:R>" in embed.description
    assert "about 2:20 left" in embed.description  # 60 s for 30 %, so 140 s for the other 70 %
    assert embed.colour == discord.Colour.blurple()
    assert embed.image.url == "https://img.example/s.png"  # the start frame until the cover exists
    assert follow_ups(rendered.view) == [FollowUp(FollowUpKind.CANCEL, JOB_ID)]
    assert rendered.content is None
    check_limits(rendered)


def test_running_job_at_zero_percent_gives_no_estimate() -> None:
    description = render(make_job(progress=0)).embeds[0].description or ""
    assert "▱▱▱▱▱▱▱▱▱▱ 0%" in description and "left" not in description


@pytest.mark.parametrize(
    ("status", "words"),
    [(JobStatus.QUEUED, "⏳ Waiting to start · queued"), (JobStatus.SUBMITTING, "📨 Submitting · asked")],
)
def test_waiting_jobs_say_so_with_a_live_time_and_offer_only_cancel(status: JobStatus, words: str) -> None:
    rendered = render(make_job(status=status, submitted_at=None))
    assert f"{words} <t:{int(NOW - 65)}:R>" in (rendered.embeds[0].description or "")
    assert follow_ups(rendered.view) == [FollowUp(FollowUpKind.CANCEL, JOB_ID)]
    assert buttons(rendered.view)[0].item.label == "Cancel"


def test_parameters_author_footer_and_sandbox_note() -> None:
    job = make_job(
        params=VideoGenerate("waves", "https://i/s.png", loop=True, mode="turbo", resolution="480p").to_body()
    )
    embed = render(job, owner_avatar="https://cdn.example/a.png", sandbox=True).embeds[0]
    fields = {field.name: field.value for field in embed.fields}
    assert fields == {"Mode": "turbo", "Resolution": "480p", "Loop": "on", "Job": f"`{JOB_ID}`"}
    assert embed.author.name == "Alice" and embed.author.icon_url == "https://cdn.example/a.png"
    assert embed.footer.text == f"Job {JOB_ID} · {SANDBOX_NOTE}"
    assert embed.timestamp is not None and embed.timestamp.timestamp() == NOW - 65

    plain = render(job, owner_name=None).embeds[0]
    assert plain.footer.text == f"Job {JOB_ID}" and plain.author.name is None


def test_end_frame_and_motion_are_shown() -> None:
    job = make_job(
        params=VideoGenerate("waves", "https://img.example/s.png", "https://img.example/end (1).png").to_body(),
        meta={"motion": "high"},
    )
    embed = render(job).embeds[0]
    fields = {field.name: field.value for field in embed.fields}
    assert fields["End frame"] == "[open](https://img.example/end%20%281%29.png)"
    assert fields["Motion"] == "High"
    assert embed.title == "🎬 Animate (High motion)"


# -- results ---------------------------------------------------------------------------------------------


def test_finished_video_says_how_long_it_took_and_offers_extend_per_clip() -> None:
    rendered = render(video_done(), attachments=[f"clip{n}.mp4" for n in range(1, 5)])
    embed = rendered.embeds[0]
    assert "✅ Done in 1:05" in (embed.description or "")
    assert embed.colour == discord.Colour.green()
    # The clips are attached above the embed; the cover stays small instead of repeating them.
    assert embed.thumbnail.url == COVER and embed.image.url is None
    assert rows(rendered.view) == [
        [(None, f"Extend {n}", FollowUp(FollowUpKind.EXTEND, JOB_ID, str(n))) for n in range(1, 5)],
        [
            ("✏️", "Extend…", FollowUp(FollowUpKind.EXTEND_MANUAL, JOB_ID)),
            ("🔄", "Reroll", FollowUp(FollowUpKind.REROLL, JOB_ID)),
            ("💾", "Save", FollowUp(FollowUpKind.SAVE, JOB_ID)),
            ("📩", "DM", FollowUp(FollowUpKind.DM, JOB_ID)),
            ("❌", None, FollowUp(FollowUpKind.CANCEL, JOB_ID)),
        ],
    ]
    check_limits(rendered)


def test_attached_cover_is_referenced_as_an_attachment() -> None:
    embed = render(video_done(), attachments=["clip1.mp4", "cover.png"]).embeds[0]
    assert embed.thumbnail.url == "attachment://cover.png"
    grid = render(imagine_done(GRID_ACTIONS), attachments=["grid.png"]).embeds[0]
    assert grid.image.url == "attachment://grid.png"
    linked = render(imagine_done(GRID_ACTIONS)).embeds[0]
    assert linked.image.url == GRID


def test_clips_too_large_to_attach_are_linked() -> None:
    embed = render(video_done(), links=CLIPS).embeds[0]
    description = embed.description or ""
    links = " · ".join(f"[Clip {n}]({url})" for n, url in enumerate(CLIPS, start=1))
    assert links in description and TOO_LARGE_NOTE in description
    assert embed.image.url == COVER  # nothing attached: the cover is the picture


def test_note_is_shown() -> None:
    assert "Re-posted by /show" in (render(video_done(), note="Re-posted by /show").embeds[0].description or "")


def test_video_with_two_clips_offers_two_extends_and_one_without_an_id_offers_none() -> None:
    two = follow_ups(job_view(video_done(video_urls=CLIPS[:2])))
    assert [f.arg for f in two if f.kind is FollowUpKind.EXTEND] == ["1", "2"]
    none = follow_ups(job_view(video_done(video_id=None)))
    assert {f.kind for f in none} == {FollowUpKind.REROLL, FollowUpKind.SAVE, FollowUpKind.DM, FollowUpKind.CANCEL}


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (JobStatus.FAILED, "❌ Failed: Your prompt was blocked: forbidden"),
        (JobStatus.TIMED_OUT, "⌛ Timed out: Your prompt was blocked: forbidden"),
        (JobStatus.CANCELLED, "🚫 Cancelled: Your prompt was blocked: forbidden"),
    ],
)
def test_failed_jobs_show_the_api_reason_and_offer_reroll_and_delete(status: JobStatus, line: str) -> None:
    job = make_job(
        status=status, finished_at=NOW, error_code="forbidden", error_message="Your prompt was blocked: forbidden"
    )
    rendered = render(job)
    assert line in (rendered.embeds[0].description or "")
    assert rows(rendered.view) == [
        [("🔄", "Reroll", FollowUp(FollowUpKind.REROLL, JOB_ID)), ("❌", None, FollowUp(FollowUpKind.CANCEL, JOB_ID))]
    ]


def test_failure_without_a_message_falls_back_to_the_code_and_a_timeout_to_its_length() -> None:
    failed = make_job(status=JobStatus.FAILED, finished_at=NOW, error_code="api_error")
    assert "❌ Failed: api\\_error" in (render(failed).embeds[0].description or "")
    timed_out = make_job(status=JobStatus.TIMED_OUT, finished_at=NOW)
    assert "⌛ Timed out: no result after 1:05" in (render(timed_out).embeds[0].description or "")
    cancelled = make_job(status=JobStatus.CANCELLED, finished_at=NOW)
    assert (render(cancelled).embeds[0].description or "").endswith("🚫 Cancelled")


def test_grid_offers_u_and_v_for_each_listed_image_then_reroll() -> None:
    rendered = render(imagine_done(GRID_ACTIONS))
    img = FollowUpKind.IMAGE
    assert rows(rendered.view) == [
        [(None, f"U{n}", FollowUp(img, JOB_ID, f"upscale{n}")) for n in range(1, 5)],
        [(None, f"V{n}", FollowUp(img, JOB_ID, f"variation{n}")) for n in range(1, 5)],
        [
            ("🔄", None, FollowUp(img, JOB_ID, "reroll")),
            ("💾", "Save", FollowUp(FollowUpKind.SAVE, JOB_ID)),
            ("📩", "DM", FollowUp(FollowUpKind.DM, JOB_ID)),
            ("❌", None, FollowUp(FollowUpKind.CANCEL, JOB_ID)),
        ],
    ]
    assert rendered.embeds[0].title == "🖼️ Imagine"


def test_grid_never_offers_an_action_the_api_did_not_list() -> None:
    offered = {f.arg for f in follow_ups(job_view(imagine_done(("upscale1", "upscale3", "variation2"))))}
    assert offered == {"upscale1", "upscale3", "variation2", None}


def test_video_grid_puts_animate_first_and_moves_u_and_v_down() -> None:
    rendered = render(imagine_done(GRID_ACTIONS, meta={"video_grid": True}))
    laid_out = rows(rendered.view)
    assert laid_out[0] == [
        ("🎬", f"Animate {n}", FollowUp(FollowUpKind.ANIMATE_QUADRANT, JOB_ID, str(n))) for n in range(1, 5)
    ]
    assert [label for _, label, _ in laid_out[1]] == ["U1", "U2", "U3", "U4"]
    assert [label for _, label, _ in laid_out[2]] == ["V1", "V2", "V3", "V4"]
    assert [emoji for emoji, _, _ in laid_out[3]] == ["🔄", "💾", "📩", "❌"]
    assert rendered.embeds[0].title == "🎬 Video · choose a start frame"
    assert "pick a start frame with 🎬 Animate" in (rendered.embeds[0].description or "")
    check_limits(rendered)


def test_video_grid_offers_animate_only_where_upscale_is_allowed() -> None:
    view = job_view(imagine_done(("upscale2", "variation1"), meta={"video_grid": True}))
    animate = [f.arg for f in follow_ups(view) if f.kind is FollowUpKind.ANIMATE_QUADRANT]
    assert animate == ["2"]


def test_upscaled_image_offers_every_listed_action_with_midjourneys_labels_and_animate() -> None:
    rendered = render(imagine_done(UPSCALED_ACTIONS, action="upscale2"))
    laid_out = rows(rendered.view)
    img = FollowUpKind.IMAGE
    assert laid_out == [
        [
            ("🎬", "Animate (Low motion)", FollowUp(FollowUpKind.ANIMATE, JOB_ID, "low")),
            ("🎬", "Animate (High motion)", FollowUp(FollowUpKind.ANIMATE, JOB_ID, "high")),
        ],
        [
            ("🔍", "Upscale (2x)", FollowUp(img, JOB_ID, "upscale_2x")),
            ("🔍", "Upscale (4x)", FollowUp(img, JOB_ID, "upscale_4x")),
            ("🔀", "Vary (Subtle)", FollowUp(img, JOB_ID, "variation_subtle")),
            ("🔀", "Vary (Strong)", FollowUp(img, JOB_ID, "variation_strong")),
        ],
        [
            ("🔭", "Zoom Out 2x", FollowUp(img, JOB_ID, "zoom_out_2x")),
            ("🔭", "Zoom Out 1.5x", FollowUp(img, JOB_ID, "zoom_out_1_5x")),
        ],
        [
            ("⬅️", None, FollowUp(img, JOB_ID, "pan_left")),
            ("➡️", None, FollowUp(img, JOB_ID, "pan_right")),
            ("⬆️", None, FollowUp(img, JOB_ID, "pan_up")),
            ("⬇️", None, FollowUp(img, JOB_ID, "pan_down")),
        ],
        [
            ("💾", "Save", FollowUp(FollowUpKind.SAVE, JOB_ID)),
            ("📩", "DM", FollowUp(FollowUpKind.DM, JOB_ID)),
            ("❌", None, FollowUp(FollowUpKind.CANCEL, JOB_ID)),
        ],
    ]
    assert rendered.embeds[0].title == "🔍 Upscale · image 2"
    check_limits(rendered)


def test_upscaled_image_offers_only_the_actions_the_api_listed() -> None:
    view = job_view(imagine_done(("upscale_4x", "variation_subtle", "pan_left", "made_up_action"), action="upscale1"))
    labels = [(button.item.emoji.name if button.item.emoji else None, button.item.label) for button in buttons(view)]
    assert labels == [
        ("🎬", "Animate (Low motion)"),
        ("🎬", "Animate (High motion)"),
        ("🔍", "Upscale (4x)"),
        ("🔀", "Vary (Subtle)"),
        ("⬅️", None),
        ("💾", "Save"),
        ("📩", "DM"),
        ("❌", None),
    ]


def test_image_without_a_url_is_not_offered_animate() -> None:
    kinds = {f.kind for f in follow_ups(job_view(imagine_done(("upscale_2x",), action="upscale1", image_url=None)))}
    assert FollowUpKind.ANIMATE not in kinds


def test_a_result_without_actions_offers_animate_only_on_a_single_image() -> None:
    upscaled = {f.kind for f in follow_ups(job_view(imagine_done((), action="upscale3")))}
    assert upscaled == {FollowUpKind.ANIMATE, FollowUpKind.SAVE, FollowUpKind.DM, FollowUpKind.CANCEL}
    grid = {f.kind for f in follow_ups(job_view(imagine_done((), action="variation_subtle")))}
    assert grid == {FollowUpKind.SAVE, FollowUpKind.DM, FollowUpKind.CANCEL}


@pytest.mark.parametrize(
    ("kind", "action", "meta", "params", "title"),
    [
        (JobKind.VIDEO, "generate", {}, {}, "🎬 Video"),
        (JobKind.VIDEO, "extend", {"clip": 2}, VideoExtend("vid-1", 1).to_body(), "🎬 Extend · clip 2"),
        (JobKind.VIDEO, "extend", {}, VideoExtend("vid-1", 3).to_body(), "🎬 Extend · clip 4"),
        (JobKind.VIDEO, "generate", {"motion": "low", "chained_from": "abcdef"}, {}, "🎬 Animate (Low motion)"),
        (JobKind.IMAGINE, "upscale3", {"then_animate": {"motion": None}}, {}, "🎬 Animate · image 3"),
        (JobKind.IMAGINE, "generate", {}, {}, "🖼️ Imagine"),
        (JobKind.IMAGINE, "upscale2", {}, {}, "🔍 Upscale · image 2"),
        (JobKind.IMAGINE, "variation4", {}, {}, "🔀 Vary · image 4"),
        (JobKind.IMAGINE, "variation_subtle", {}, {}, "🔀 Vary (Subtle)"),
        (JobKind.IMAGINE, "variation_strong", {}, {}, "🔀 Vary (Strong)"),
        (JobKind.IMAGINE, "upscale_4x", {}, {}, "🔍 Upscale (4x)"),
        (JobKind.IMAGINE, "zoom_out_2x", {}, {}, "🔭 Zoom out 2x"),
        (JobKind.IMAGINE, "zoom_out_1_5x", {}, {}, "🔭 Zoom out 1.5x"),
        (JobKind.IMAGINE, "pan_left", {}, {}, "⬅️ Pan left"),
        (JobKind.IMAGINE, "pan_down", {}, {}, "⬇️ Pan down"),
        (JobKind.IMAGINE, "reroll", {}, {}, "🔄 Reroll"),
        (JobKind.IMAGINE, "custom_zoom", {}, {}, "🖼️ Custom zoom"),
    ],
)
def test_titles(kind: JobKind, action: str, meta: dict[str, Any], params: dict[str, Any], title: str) -> None:
    assert job_title(make_job(kind=kind, action=action, meta=meta, params=params)) == title


def test_upscale_on_its_way_to_a_video_shows_what_the_video_will_be() -> None:
    plan = {"motion": "high", "mode": "turbo", "resolution": "720p", "loop": True}
    job = imagine_done(UPSCALED_ACTIONS, action="upscale3", meta={"then_animate": plan})
    embed = render(job).embeds[0]
    assert {field.name: field.value for field in embed.fields}["Video"] == "720p · turbo · high motion · loop"
    assert "animating it now" in (embed.description or "")


# -- limits and escaping ---------------------------------------------------------------------------------


WORST_PROMPT = ("**bold** __under__ `code` ~~gone~~ ||spoiler|| > quote @everyone @here <@123456789012345678> " * 40)[
    :2000
]


def worst_case_jobs() -> list[Job]:
    """Every state, each with the longest prompt, id, reason and URLs the bot can meet."""
    long_url = "https://img.example/" + "a" * 2030
    common: dict[str, Any] = {
        "id": LONGEST_JOB_ID,
        "prompt": WORST_PROMPT,
        "params": VideoGenerate(WORST_PROMPT, long_url, long_url, loop=True, mode="turbo").to_body(),
        "meta": {"motion": "high"},
        "error_message": "**moderation** @everyone " * 200,
        "error_code": "forbidden",
    }
    jobs = [make_job(status=status, progress=55, **common) for status in JobStatus]
    jobs.append(video_done(**{**common, "error_message": None}))
    grid_meta = {"video_grid": True, "video_options": {"mode": "fast", "resolution": "720p", "loop": True}}
    imagine = {**common, "params": ImagineGenerate(WORST_PROMPT, mode="turbo").to_body()}
    jobs.append(imagine_done(GRID_ACTIONS, **{**imagine, "meta": grid_meta}))
    jobs.append(imagine_done((*UPSCALED_ACTIONS, "x" * 40), action="upscale4", **{**imagine, "meta": {}}))
    return jobs


@pytest.mark.parametrize("job", worst_case_jobs(), ids=lambda job: f"{job.kind}-{job.status}-{job.action}")
def test_worst_case_job_stays_within_every_discord_limit_and_never_pings(job: Job) -> None:
    rendered = render(
        job,
        owner_name="N" * 300,
        sandbox=True,
        attachments=[f"clip{n}.mp4" for n in range(1, 5)],
        links=["https://cdn.example/" + "l" * 600 + f"/{n}.mp4" for n in range(1, 5)],
        note="A note from the caller. " * 60,
    )
    check_limits(rendered)
    assert rendered.content is None
    description = rendered.embeds[0].description or ""
    assert "@everyone" not in description and "@here" not in description
    assert "<@123456789012345678>" not in description
    assert "@\u200beveryone" in description  # still readable, but inert
    assert "\\*\\*bold\\*\\*" in description  # the member's markdown shows as typed
    assert description.startswith("**") and "…**" in description  # cut, and the bold still closes


def test_a_short_prompt_is_shown_whole_and_escaped() -> None:
    job = make_job(prompt="a_cat *dances* @here")
    assert (render(job).embeds[0].description or "").startswith("**a\\_cat \\*dances\\* @\u200bhere**\n\n")


def test_every_custom_id_parses_back_and_stays_short_for_the_longest_job_id() -> None:
    for job in worst_case_jobs():
        for button in buttons(job_view(job)):
            custom_id = button.custom_id
            assert len(custom_id) < 100, custom_id
            assert FollowUp.parse(custom_id) == button.follow_up
            assert button.follow_up.job_id == LONGEST_JOB_ID


def test_render_uses_the_clock_when_no_time_is_given() -> None:
    job = make_job(progress=50, submitted_at=time.time() - 30)
    assert "about 0:3" in (render_job(job, owner_name=None, sandbox=False).embeds[0].description or "")
