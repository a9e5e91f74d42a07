"""The CLI when a submit gets no clear answer, ``mjbot wait``, and two processes on one store.

Everything runs as real processes: the API emulator (``mjbot emulator``, driven through its admin
routes), and the CLI commands against it on one SQLite file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli import free_port, mjbot

from bot.store.owner import StoreOwner

TOKEN = "cli-settle-token-3e8a"
CONFIG = """
[acedata]
base_url = "{url}"
token = "{token}"
request_timeout_s = 0.5
[jobs]
poll_interval_s = 0.2
[store]
path = "{store}"
"""


class EmulatorProcess:
    """``mjbot emulator`` in a child process, and its admin routes."""

    def __init__(self, port: int, process: subprocess.Popen[str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = process

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 (http, loopback)
        request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return json.loads(response.read())

    def fault(self, **fault: Any) -> None:
        self.admin("POST", "/_emulator/faults", fault)

    @property
    def task_count(self) -> int:
        return int(self.admin("GET", "/_emulator/state")["task_count"])


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    port = free_port()
    command = [sys.executable, "-m", "bot", "emulator", "--port", str(port), "--token", TOKEN]
    process = subprocess.Popen(
        [*command, "--job-duration", "0.5", "--video-duration", "2"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "mjbot emulator on" in process.stdout.readline()
        yield EmulatorProcess(port, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def config(tmp_path: Path, emulator: EmulatorProcess) -> Path:
    path = tmp_path / "config.toml"
    store = (tmp_path / "jobs.sqlite3").as_posix()
    path.write_text(CONFIG.format(url=emulator.url, token=TOKEN, store=store), encoding="utf-8")
    return path


@pytest.fixture
def video_args(emulator: EmulatorProcess) -> tuple[str, ...]:
    """A video command whose start frame is one of the emulator's sample pictures (it answers, with an image)."""
    return ("video", "waves crash on rocks", "--image", f"{emulator.url}/samples/rocks.png", "--resolution", "480p")


def until(check: Any, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def test_an_unconfirmed_submit_names_the_job_and_wait_follows_it_without_a_second_task(
    config: Path, tmp_path: Path, video_args: tuple[str, ...], emulator: EmulatorProcess
) -> None:
    # The API makes the task but answers too late for the client, and refuses every task search.
    emulator.fault(path="/midjourney/videos", delay_s=1.5)
    emulator.fault(status=400, path="/midjourney/tasks", count=100_000)
    first = mjbot(*video_args, "--config", str(config), cwd=tmp_path)
    assert first.returncode == 1
    assert "refused the job" not in first.stderr + first.stdout
    [said] = [line for line in first.stderr.splitlines() if line.startswith("mjbot:")]
    assert "refused" not in said and "may have created the task" in said
    found = re.search(r"mjbot wait (\w+)", first.stderr)
    assert found, first.stderr
    job_id = found.group(1)
    until(lambda: emulator.task_count == 1)

    again = mjbot(*video_args, "--config", str(config), cwd=tmp_path)
    assert again.returncode == 1
    assert f"job {job_id} with the same request is still unsettled" in again.stderr
    assert f"mjbot wait {job_id}" in again.stderr
    assert emulator.task_count == 1

    emulator.admin("DELETE", "/_emulator/faults")  # the task search works again
    waited = mjbot("wait", job_id, "--config", str(config), cwd=tmp_path)
    assert waited.returncode == 0, waited.stderr + waited.stdout
    assert f"Job {job_id} done" in waited.stdout
    assert len(re.findall(r"clip \d: http://127\.0\.0\.1:\d+/\S+\.mp4", waited.stdout)) == 4
    assert emulator.task_count == 1

    finished = mjbot("wait", job_id, "--config", str(config), cwd=tmp_path)  # a finished job: its result at once
    assert finished.returncode == 0 and f"Job {job_id} done" in finished.stdout
    assert len(re.findall(r"clip \d: http", finished.stdout)) == 4


def test_wait_for_an_unknown_job_says_so(config: Path, tmp_path: Path) -> None:
    (tmp_path / "jobs.sqlite3").write_bytes(b"")  # an empty store
    result = mjbot("wait", "nosuchjob1", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "there is no job 'nosuchjob1'" in result.stderr and "mjbot jobs" in result.stderr


def test_a_second_engine_on_the_same_store_is_refused_and_nothing_is_sent_twice(
    config: Path, tmp_path: Path, video_args: tuple[str, ...], emulator: EmulatorProcess
) -> None:
    first = subprocess.Popen(
        [sys.executable, "-m", "bot", *video_args, "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None
        submitted = first.stdout.readline()
        found = re.match(r"Job (\w+) submitted", submitted)
        assert found, submitted
        job_id = found.group(1)

        second = mjbot(*video_args, "--api", emulator.url, "--config", str(config), cwd=tmp_path)
        assert second.returncode == 1
        lines = second.stderr.splitlines()
        assert len(lines) == 1, second.stderr
        store = re.escape((tmp_path / "jobs.sqlite3").as_posix())
        assert re.fullmatch(
            rf'mjbot: the store {store} is in use by "mjbot video" \(pid {first.pid}, since \d\d:\d\d UTC\); '
            r"stop it, or use another \[store\] path",
            lines[0],
        ), lines[0]

        listing = mjbot("jobs", "--config", str(config), cwd=tmp_path)  # reading the store is fine meanwhile
        assert listing.returncode == 0 and job_id in listing.stdout

        waited = mjbot("wait", job_id, "--config", str(config), cwd=tmp_path)  # watches; the first one finishes it
        assert waited.returncode == 0, waited.stderr + waited.stdout
        assert f'in use by "mjbot video" (pid {first.pid}' in waited.stdout and "read-only" in waited.stdout
        assert f"Job {job_id} done" in waited.stdout
    finally:
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert emulator.task_count == 1


def test_a_job_command_is_refused_while_the_bot_holds_the_store(
    config: Path, tmp_path: Path, video_args: tuple[str, ...]
) -> None:
    with StoreOwner.acquire(tmp_path / "jobs.sqlite3", "mjbot run"):
        refused = mjbot(*video_args, "--config", str(config), cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert f'is in use by "mjbot run" (pid {os.getpid()}, since ' in refused.stderr
    assert not (tmp_path / "jobs.sqlite3").exists()  # refused before the store was even opened


def test_wait_watches_while_another_process_holds_the_store_then_takes_over_when_it_stops(
    config: Path, tmp_path: Path, video_args: tuple[str, ...], emulator: EmulatorProcess
) -> None:
    emulator.fault(path="/midjourney/videos", delay_s=1.5)
    emulator.fault(status=400, path="/midjourney/tasks", count=100_000)
    first = mjbot(*video_args, "--config", str(config), cwd=tmp_path)
    found = re.search(r"mjbot wait (\w+)", first.stderr)
    assert found, first.stderr
    job_id = found.group(1)
    until(lambda: emulator.task_count == 1)

    owner = StoreOwner.acquire(tmp_path / "jobs.sqlite3", "mjbot run")  # as if the bot were running
    waiting = subprocess.Popen(
        [sys.executable, "-m", "bot", "wait", job_id, "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiting.stdout is not None
        watching = waiting.stdout.readline()
        assert f'in use by "mjbot run" (pid {os.getpid()}' in watching and "read-only" in watching
        emulator.admin("DELETE", "/_emulator/faults")
        time.sleep(1.0)
        assert waiting.poll() is None  # still watching: it does not settle a job another process runs
        assert emulator.task_count == 1
    finally:
        owner.release()
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "That process has stopped" in out
    assert f"Job {job_id} done" in out and len(re.findall(r"clip \d: http", out)) == 4
    assert emulator.task_count == 1
