"""The CLI end to end: real processes, the built-in emulator over loopback HTTP, a real SQLite file."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

FAST = """
[acedata]
base_url = "emulator"
[jobs]
poll_interval_s = 0.2
[emulator]
job_duration_s = 0.6
video_duration_s = 0.8
moderation_words = ["forbidden"]
listen_port = {port}
[store]
path = "{store}"
"""


def mjbot(
    *args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(FAST.format(store=(tmp_path / "jobs.sqlite3").as_posix(), port=free_port()), encoding="utf-8")
    return path


def test_video_then_extend_then_list(config: Path, tmp_path: Path) -> None:
    video = mjbot(
        "video", "waves crash on rocks --motion high", "--image", "https://example.org/rocks.png",
        "--resolution", "480p", "--config", str(config), cwd=tmp_path,
    )  # fmt: skip
    assert video.returncode == 0, video.stderr
    assert "Sandbox mode" in video.stdout
    clips = re.findall(r"clip (\d): (http://127\.0\.0\.1:\d+/\S+\.mp4)", video.stdout)
    assert [number for number, _ in clips] == ["1", "2", "3", "4"]
    assert "100%" in video.stdout
    job_id = re.search(r"Job (\w+) done", video.stdout)
    assert job_id, video.stdout

    extend = mjbot("extend", job_id.group(1), "--index", "2", "--config", str(config), cwd=tmp_path)
    assert extend.returncode == 0, extend.stderr + extend.stdout
    assert len(re.findall(r"clip \d: http", extend.stdout)) == 4

    listing = mjbot("jobs", "--config", str(config), cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines()[1:] if line.strip()]
    assert len(rows) == 2
    assert rows[0].split()[2] == "extend" and rows[1].split()[2] == "generate"
    assert all("succeeded" in row for row in rows)


def test_imagine_prints_grid_and_next_actions(config: Path, tmp_path: Path) -> None:
    result = mjbot("imagine", "a lighthouse at dusk", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"grid:\s+http://127\.0\.0\.1:\d+/\S+\.png", result.stdout)
    assert "upscale1" in result.stdout and "variation4" in result.stdout


def test_api_emulator_flag_works_without_any_config_file(tmp_path: Path) -> None:
    quick = {"MJBOT_EMULATOR_JOB_DURATION_S": "0.5", "MJBOT_EMULATOR_LISTEN_PORT": str(free_port())}
    result = mjbot("imagine", "a red cube", "--api", "emulator", cwd=tmp_path, env=quick)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "mjbot.sqlite3").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["video", "   ", "--image", "https://example.org/a.png"], "The prompt is empty"),
        (["video", "waves", "--image", "ftp://example.org/a.png"], "must be an http:// or https:// link"),
        (
            ["video", "waves", "--image", "https://e.org/a.png", "--loop", "--end-image", "https://e.org/b.png"],
            "can't be combined",
        ),
        (["extend", "nosuchjob", "--index", "1"], "There is no job 'nosuchjob'"),
    ],
)
def test_bad_input_is_refused_before_any_job(config: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = mjbot(*args, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    listing = mjbot("jobs", "--config", str(config), cwd=tmp_path)
    assert "No jobs yet" in listing.stdout


def test_moderation_refusal_is_reported(config: Path, tmp_path: Path) -> None:
    result = mjbot(
        "video", "a forbidden scene", "--image", "https://example.org/a.png", "--config", str(config), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "refused" in result.stderr and "forbidden" in result.stderr


def test_the_suggested_extend_command_works_as_printed_in_sandbox_mode(tmp_path: Path) -> None:
    quick = {
        "MJBOT_EMULATOR_VIDEO_DURATION_S": "0.5",
        "MJBOT_EMULATOR_LISTEN_PORT": str(free_port()),
        "MJBOT_JOBS_POLL_INTERVAL_S": "0.2",
    }
    video = mjbot(
        "video", "waves", "--image", "https://example.org/a.png", "--api", "emulator", cwd=tmp_path, env=quick
    )
    assert video.returncode == 0, video.stderr
    suggested = re.search(r"Extend a clip: (mjbot extend .+)", video.stdout)
    assert suggested, video.stdout
    words = shlex.split(suggested.group(1))
    assert words[-2:] == ["--api", "emulator"]  # without it, the extend would look for a real API token
    extend = mjbot(*words[1:], cwd=tmp_path, env=quick)
    assert extend.returncode == 0, extend.stderr + extend.stdout
    assert len(re.findall(r"clip \d: http", extend.stdout)) == 4


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_mjbot_jobs_refuses_a_limit_below_one(config: Path, tmp_path: Path, limit: str) -> None:
    listing = mjbot("jobs", "--limit", limit, "--config", str(config), cwd=tmp_path)
    assert listing.returncode == 2
    assert "argument --limit" in listing.stderr and "No jobs yet" not in listing.stdout
