"""The CLI's follow-up commands end to end: real processes, the built-in emulator, a real SQLite file.

Each command is planned by the core's rules (bot.followups), as Discord's buttons are.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shlex
import subprocess
from pathlib import Path

from test_cli import config as config  # the sandbox config fixture
from test_cli import mjbot, sample

from bot.store import Store
from bot.text import shorten


def run(config: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return mjbot(*args, "--config", str(config), cwd=cwd)


def done(result: subprocess.CompletedProcess[str]) -> str:
    """The id of the job a command finished (the last one it followed)."""
    assert result.returncode == 0, result.stderr + result.stdout
    found = re.findall(r"Job (\w+) done", result.stdout)
    assert found, result.stdout
    return str(found[-1])


async def make_video_grid(store_path: Path, job_id: str) -> None:
    """Mark a grid as one /video made (a start frame to pick), as Discord's /video without a start frame does."""
    store = await Store.open(store_path)
    try:
        await store.jobs.update_meta(job_id, lambda meta: dataclasses.replace(meta, video_grid=True))
    finally:
        await store.close()


def listing(config: Path, cwd: Path) -> dict[str, tuple[str, str]]:
    """Job id -> (kind, action) of every job in the store."""
    rows = run(config, cwd, "jobs", "--limit", "100").stdout.splitlines()[1:]
    return {row.split()[0]: (row.split()[1], row.split()[2]) for row in rows}


def test_a_fifth_extend_is_refused(config: Path, tmp_path: Path) -> None:
    video = done(run(config, tmp_path, "video", "a kite rises", "--image", sample(config, "sky")))
    for _ in range(4):
        video = done(run(config, tmp_path, "extend", video, "--index", "2"))
    refused = run(config, tmp_path, "extend", video, "--index", "1", "--prompt", "higher")
    assert refused.returncode == 2
    assert f"job {video}: This video has been extended 4 times" in refused.stderr
    assert len(listing(config, tmp_path)) == 5  # nothing was sent
    again = run(config, tmp_path, "reroll", video)  # making the fourth extension again is no fifth
    assert re.findall(r"clip \d: http", again.stdout) and again.returncode == 0, again.stderr


def test_image_follow_ups_each_make_their_job(config: Path, tmp_path: Path) -> None:
    grid = done(run(config, tmp_path, "imagine", "a lighthouse at dusk"))
    upscaled = done(run(config, tmp_path, "upscale", grid, "--index", "2"))
    made = {
        done(run(config, tmp_path, "vary", grid, "--index", "4")): "variation4",
        done(run(config, tmp_path, "reroll", grid)): "reroll",
        done(run(config, tmp_path, "upscale", upscaled, "--kind", "2x")): "upscale_2x",
        done(run(config, tmp_path, "vary", upscaled, "--strength", "strong")): "variation_strong",
        done(run(config, tmp_path, "zoom", upscaled, "--factor", "1.5")): "zoom_out_1_5x",
        done(run(config, tmp_path, "pan", upscaled, "--direction", "up")): "pan_up",
    }
    jobs = listing(config, tmp_path)
    assert jobs[upscaled] == ("imagine", "upscale2")
    assert {job_id: jobs[job_id][1] for job_id in made} == {
        job_id: shorten(action, 11) for job_id, action in made.items()
    }


def test_animate_an_upscaled_image_and_an_image_of_a_grid(config: Path, tmp_path: Path) -> None:
    grid = done(run(config, tmp_path, "imagine", "a red fox --motion high"))
    upscaled = done(run(config, tmp_path, "upscale", grid, "--index", "1"))
    animated = run(config, tmp_path, "animate", upscaled, "--motion", "low")
    video = done(animated)
    assert len(re.findall(r"clip \d: http", animated.stdout)) == 4
    assert f"Extend a clip: mjbot extend {video} --index 1" in animated.stdout
    assert listing(config, tmp_path)[video] == ("video", "generate")
    rerolled = done(run(config, tmp_path, "reroll", video))
    assert listing(config, tmp_path)[rerolled] == ("video", "generate")

    # Animate N is a /video grid's (as its buttons on Discord): a grid /imagine made is animated from an upscale.
    plain = run(config, tmp_path, "animate", grid, "--index", "3")
    assert plain.returncode == 2 and "That action is not offered on this image. It allows:" in plain.stderr
    assert f"Upscale (--index 1|2|3|4): mjbot upscale {grid} --index 1" in plain.stderr
    asyncio.run(make_video_grid(tmp_path / "jobs.sqlite3", grid))
    chained = run(config, tmp_path, "animate", grid, "--index", "3")
    chained_video = done(chained)
    upscale = re.search(r"Job (\w+) upscaled the image; its video follows", chained.stdout)
    assert upscale, chained.stdout
    jobs = listing(config, tmp_path)
    assert jobs[upscale.group(1)] == ("imagine", "upscale3") and jobs[chained_video] == ("video", "generate")


def test_a_follow_up_the_result_does_not_allow_is_refused_with_what_it_allows(config: Path, tmp_path: Path) -> None:
    grid = done(run(config, tmp_path, "imagine", "a paper boat"))
    not_offered = run(config, tmp_path, "pan", grid, "--direction", "left")
    assert not_offered.returncode == 2
    assert "That action is not offered on this image. It allows:" in not_offered.stderr
    assert f"mjbot upscale {grid} --index 1" in not_offered.stderr
    assert "Animate works on one image" in run(config, tmp_path, "animate", grid).stderr
    assert "Only videos can be extended" in run(config, tmp_path, "extend", grid, "--index", "1").stderr
    assert len(listing(config, tmp_path)) == 1  # nothing was sent

    # The commands a result suggests run as printed.
    suggested = re.search(
        r"Upscale \(--index 1\|2\|3\|4\): (mjbot upscale .+)", run(config, tmp_path, "wait", grid).stdout
    )
    assert suggested
    upscaled = done(mjbot(*shlex.split(suggested.group(1))[1:], "--config", str(config), cwd=tmp_path))
    assert listing(config, tmp_path)[upscaled] == ("imagine", "upscale1")
