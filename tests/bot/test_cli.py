"""The CLI end to end: real processes, the built-in emulator over loopback HTTP, a real SQLite file."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def sample(config: Path, name: str) -> str:
    """A start frame the sandbox serves itself: one of its emulator's sample pictures."""
    port = re.search(r"listen_port = (\d+)", config.read_text(encoding="utf-8"))
    assert port is not None
    return f"http://127.0.0.1:{port.group(1)}/samples/{name}.png"


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
        "video", "waves crash on rocks --motion high", "--image", sample(config, "rocks"),
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
    grid = re.search(r"Job (\w+) done", result.stdout)
    assert grid, result.stdout
    # The next actions are the commands that run them (bot.cli_followups), each as printed.
    assert f"Upscale (--index 1|2|3|4): mjbot upscale {grid.group(1)} --index 1" in result.stdout
    assert f"Vary (--index 1|2|3|4): mjbot vary {grid.group(1)} --index 1" in result.stdout


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
    assert listing.returncode == 1 and "there is no store at" in listing.stderr  # not even a store was made


def test_moderation_refusal_is_reported(config: Path, tmp_path: Path) -> None:
    result = mjbot("video", "a forbidden scene", "--image", sample(config, "a"), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "refused" in result.stderr and "forbidden" in result.stderr


def test_the_suggested_extend_command_works_as_printed_in_sandbox_mode(tmp_path: Path) -> None:
    quick = {
        "MJBOT_EMULATOR_VIDEO_DURATION_S": "0.5",
        "MJBOT_EMULATOR_LISTEN_PORT": str(free_port()),
        "MJBOT_JOBS_POLL_INTERVAL_S": "0.2",
    }
    image = f"http://127.0.0.1:{quick['MJBOT_EMULATOR_LISTEN_PORT']}/samples/a.png"
    video = mjbot("video", "waves", "--image", image, "--api", "emulator", cwd=tmp_path, env=quick)
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


def test_cli_start_frames_get_the_checks_discord_options_get_and_errors_name_the_flags(
    config: Path, tmp_path: Path
) -> None:
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{dead.getsockname()[1]}/a.png"  # nothing listens there
    unreachable = mjbot("video", "waves", "--image", nobody, "--config", str(config), cwd=tmp_path)
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith("mjbot: --image could not be reached"), unreachable.stderr
    not_image = mjbot(
        "video", "waves", "--image", sample(config, "a"), "--end-image", sample(config, "b").replace(".png", ".gif"),
        "--config", str(config), cwd=tmp_path,
    )  # fmt: skip
    assert not_image.returncode == 2 and not_image.stderr.startswith("mjbot: --end-image"), not_image.stderr
    both = mjbot(
        "video", "waves", "--image", sample(config, "a"), "--end-image", sample(config, "b"), "--loop",
        "--config", str(config), cwd=tmp_path,
    )  # fmt: skip
    assert both.returncode == 2 and "--loop and an end frame can't be combined" in both.stderr
    assert "`" not in unreachable.stderr + not_image.stderr + both.stderr  # flags, not Discord's option names
    assert "image_url" not in unreachable.stderr + not_image.stderr + both.stderr
    jobs = mjbot("jobs", "--config", str(config), cwd=tmp_path)
    assert "No jobs yet" in jobs.stdout  # nothing was sent


async def test_a_private_address_is_refused_when_the_api_is_public() -> None:
    from bot.cli_jobs import check_frames
    from bot.options import InputError, video_request

    request = video_request("waves", "http://127.0.0.1:9/a.png", names=("--image", "--end-image", "--loop"))
    with pytest.raises(InputError) as caught:
        await check_frames(request, allow_private=False)
    assert str(caught.value).startswith("`--image`") and "network" in str(caught.value)


def test_mjbot_emulator_serves_the_media_links_that_sandbox_runs_printed(config: Path, tmp_path: Path) -> None:
    video = mjbot("video", "waves", "--image", sample(config, "rocks"), "--config", str(config), cwd=tmp_path)
    assert video.returncode == 0, video.stderr
    links = re.findall(r"(?:clip \d|cover):\s+(http://\S+)", video.stdout)
    assert len(links) == 5, video.stdout
    port = re.search(r"listen_port = (\d+)", config.read_text(encoding="utf-8"))
    assert port is not None
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "emulator", "--port", port.group(1), "--config", str(config)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert "mjbot emulator on" in server.stdout.readline()  # printed once it listens
        for link in links:
            with urllib.request.urlopen(link, timeout=5) as answer:  # noqa: S310 - http on loopback
                assert answer.status == 200
                assert answer.headers["content-type"] in ("video/mp4", "image/png")
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(links[0].replace("/media/videos/", "/media/videos/x"), timeout=5)  # noqa: S310
        assert missing.value.code == 404
    finally:
        server.terminate()
        server.wait(timeout=10)


def emulator_process(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """``mjbot emulator`` in a child process, and the first line it printed (once it listens)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "emulator", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline()


def test_mjbot_emulator_listens_on_the_config_port_and_serves_a_sandbox_run_that_found_it_taken(
    config: Path, tmp_path: Path
) -> None:
    port = re.search(r"listen_port = (\d+)", config.read_text(encoding="utf-8"))
    assert port is not None
    server, first = emulator_process("--config", str(config), cwd=tmp_path)  # no --port: the config's
    try:
        assert f"mjbot emulator on http://127.0.0.1:{port.group(1)} " in first, first
        video = mjbot("video", "waves", "--image", sample(config, "rocks"), "--config", str(config), cwd=tmp_path)
        assert video.returncode == 0, video.stderr
        links = re.findall(r"(?:clip \d|cover):\s+(http://\S+)", video.stdout)
        assert len(links) == 5 and all(link.startswith(f"http://127.0.0.1:{port.group(1)}/") for link in links)
        assert f"Port {port.group(1)} was taken" in video.stdout and "mjbot emulator --config" in video.stdout
        for link in links:  # the run has ended: the process on the configured port serves them
            with urllib.request.urlopen(link, timeout=5) as answer:  # noqa: S310 - http on loopback
                assert answer.status == 200
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_mjbot_emulator_prints_the_port_it_got_and_stops_with_its_own_line(tmp_path: Path) -> None:
    server, first = emulator_process("--port", "0", cwd=tmp_path)
    try:
        found = re.search(r"on http://127\.0\.0\.1:(\d+) ", first)
        assert found and found.group(1) != "0", first
        with urllib.request.urlopen(f"http://127.0.0.1:{found.group(1)}/samples/a.png", timeout=5) as answer:
            assert answer.status == 200
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=10)
    assert "emulator stopped" in err and "unfinished jobs" not in err, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", ""], "argument --token: '' can't be a bearer token"),
        (["--failure-rate", "5"], "argument --failure-rate: 5 is out of range"),
        (["--job-duration", "-1"], "argument --job-duration: -1 is too short"),
        (["--job-duration", "nan"], "argument --job-duration: 'nan' is not a finite number"),
        (["--video-duration", "0"], "argument --video-duration: 0 is too short"),
    ],
)
def test_mjbot_emulator_refuses_knobs_it_cannot_honour(tmp_path: Path, args: list[str], message: str) -> None:
    result = mjbot("emulator", "--port", "0", *args, cwd=tmp_path, timeout=20)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_an_interrupted_job_is_named_and_the_same_command_later_prints_its_result_instead_of_sending_again(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    store = tmp_path / "jobs.sqlite3"
    config.write_text(
        FAST.format(store=store.as_posix(), port=free_port()).replace("video_duration_s = 0.8", "video_duration_s = 3"),
        encoding="utf-8",
    )
    command = ["video", "waves", "--image", sample(config, "rocks"), "--config", str(config)]
    ids = []
    for stop, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        running = subprocess.Popen(
            [sys.executable, "-m", "bot", *command, *(["--new"] if ids else [])],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert running.stdout is not None
        submitted = running.stdout.readline()
        while "submitted" not in submitted and submitted:
            submitted = running.stdout.readline()
        found = re.match(r"Job (\w+) submitted", submitted)
        assert found, submitted
        running.send_signal(stop)
        _, err = running.communicate(timeout=20)
        assert running.returncode == code, err
        assert f"job {found.group(1)} stays in the store unfinished" in err, err
        assert f"mjbot wait {found.group(1)} --config {config}" in err, err
        ids.append(found.group(1))

    time.sleep(3.5)  # both are due now; the engine finishes them as it starts
    again = mjbot(*command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "submitted" not in again.stdout
    assert f"Job {ids[0]} had the same request and has finished" in again.stdout
    assert f"Job {ids[0]} done" in again.stdout and len(re.findall(r"clip \d: http", again.stdout)) == 4
    listing = mjbot("jobs", "--config", str(config), cwd=tmp_path)
    assert len([line for line in listing.stdout.splitlines()[1:] if line.strip()]) == 2  # no third job
    forced = mjbot(*command, "--new", cwd=tmp_path)
    assert forced.returncode == 0 and "submitted" in forced.stdout


def test_read_only_commands_never_make_a_store_and_say_where_they_looked(tmp_path: Path) -> None:
    for command in (["jobs"], ["wait", "abc"], ["users", "list"], ["users", "unblock", "123456789012345678"]):
        result = mjbot(*command, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stderr)
        assert f"there is no store at {tmp_path / 'data' / 'mjbot.sqlite3'}" in result.stderr
        assert "--config" in result.stderr
    assert not (tmp_path / "data").exists()


def test_an_empty_store_is_named(config: Path, tmp_path: Path) -> None:
    made = mjbot("video", "   ", "--image", "https://example.org/a.png", "--config", str(config), cwd=tmp_path)
    assert made.returncode == 2
    blocked = mjbot("users", "block", "123456789012345678", "--config", str(config), cwd=tmp_path)  # writes: makes it
    assert blocked.returncode == 0, blocked.stderr
    listing = mjbot("jobs", "--config", str(config), cwd=tmp_path)
    assert listing.returncode == 0 and f"No jobs yet in {tmp_path / 'jobs.sqlite3'}" in listing.stdout


def test_wait_needs_the_api_only_to_follow_a_job(tmp_path: Path) -> None:
    quick = {"MJBOT_EMULATOR_JOB_DURATION_S": "0.5", "MJBOT_EMULATOR_LISTEN_PORT": str(free_port())}
    made = mjbot("imagine", "a red cube", "--api", "emulator", cwd=tmp_path, env=quick)
    assert made.returncode == 0, made.stderr
    found = re.search(r"Job (\w+) done", made.stdout)
    assert found, made.stdout
    finished = mjbot("wait", found.group(1), cwd=tmp_path)  # no --api: the result is in the store
    assert finished.returncode == 0 and f"Job {found.group(1)} done" in finished.stdout, finished.stderr
    unknown = mjbot("wait", "nosuchjob1", cwd=tmp_path)
    assert unknown.returncode == 2 and "there is no job 'nosuchjob1'" in unknown.stderr, unknown.stderr


def test_health_refuses_a_missing_config_and_a_port_nobody_can_know(tmp_path: Path) -> None:
    missing = mjbot("health", "--config", str(tmp_path / "nonexistent.toml"), cwd=tmp_path)
    assert missing.returncode == 2 and "nonexistent.toml does not exist" in missing.stderr
    anyport = tmp_path / "anyport.toml"
    anyport.write_text("[callback]\nlisten_port = 0\n", encoding="utf-8")
    result = mjbot("health", "--config", str(anyport), cwd=tmp_path)
    assert result.returncode == 2 and "the health check needs a fixed port" in result.stderr, result.stderr
    assert ":0/healthz" not in result.stdout


def test_help_shows_the_defaults(tmp_path: Path) -> None:
    video = mjbot("video", "--help", cwd=tmp_path)
    assert "(default: fast)" in video.stdout and "(default: 720p)" in video.stdout
    emulator = mjbot("emulator", "--help", cwd=tmp_path)
    assert "listen_port" in emulator.stdout and "(default: emulator-token)" in emulator.stdout


async def test_an_upscale_to_animate_is_no_twin_of_a_plain_upscale_of_the_same_image(tmp_path: Path) -> None:
    from bot.acedata.models import ImagineAction
    from bot.cli_jobs import unfinished_twin
    from bot.store import EMPTY_META, JobMeta, NewJob, Store, VideoOptions
    from bot.store.models import JobKind

    upscale = ImagineAction("upscale2", "img-1")
    animate = JobMeta(then_animate=VideoOptions(motion="high"))
    store = await Store.open(tmp_path / "jobs.sqlite3")
    try:
        plain = await store.jobs.create_job(NewJob(JobKind.IMAGINE, "upscale2", "", params=upscale.to_body()))
        assert await unfinished_twin(store, upscale, animate) is None  # mjbot animate --index 2 must still run
        twin = await unfinished_twin(store, upscale, EMPTY_META)
        assert twin is not None and twin.id == plain.id  # the same plain upscale again is a twin
    finally:
        await store.close()
