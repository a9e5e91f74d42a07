"""What the CLI prints: plain lines when piped (the same columns and bar as ever), rich's bar, tables and
coloured errors on a terminal; and a real command in a pseudo-terminal."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from bot.cli import JOB_COLUMNS
from bot.cli_output import Column, ProgressPrinter, error, print_table
from bot.store import NewJob, Store
from bot.store.models import Job, JobKind, JobStatus

ROOT = Path(__file__).resolve().parents[2]
ESC = "\x1b["


def terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=100, color_system="standard", highlight=False), screen


async def a_job(tmp_path: Path, *, progress: int = 40, prompt: str = "waves [bold]crash[/bold] :x:") -> Job:
    """A job stored in ``tmp_path``'s store, as it reads while running at ``progress`` percent."""
    async with await Store.open(str(tmp_path / "jobs.sqlite3")) as store:
        job = await store.jobs.create_job(NewJob(kind=JobKind.VIDEO, action="generate", prompt=prompt))
    return dataclasses.replace(job, status=JobStatus.RUNNING, progress=progress)


# -- piped: plain lines, as they always were ------------------------------------------------------------------


async def test_piped_progress_is_a_plain_line_per_change(tmp_path: Path) -> None:
    job = await a_job(tmp_path)
    out = io.StringIO()
    progress = ProgressPrinter(out)
    progress.show(job)
    progress.show(job)  # no change, no line
    progress.done()
    [line] = out.getvalue().splitlines()
    assert line.startswith("[▰▰▰▰▰▰▰▰▱▱▱▱▱▱▱▱▱▱▱▱ 40%] running    0:0")
    assert ESC not in out.getvalue() and "\r" not in out.getvalue()


def test_piped_tables_keep_their_columns() -> None:
    out = io.StringIO()
    row = ("abc1234def0", "video", "generate", "running", "40%", "1:05", "waves crash")
    print_table(out, JOB_COLUMNS, [row])
    header, line = out.getvalue().splitlines()
    # The very format `mjbot jobs` printed before it could draw tables on a terminal.
    assert header == f"{'JOB':<11} {'KIND':<8} {'ACTION':<11} {'STATUS':<10} {'PROGRESS':>8}  {'AGE':>8}  PROMPT"
    assert (
        line == f"{'abc1234def0':<11} {'video':<8} {'generate':<11} {'running':<10} {40:>7}%  {'1:05':>8}  waves crash"
    )


def test_piped_errors_are_one_plain_line() -> None:
    err = io.StringIO()
    error(err, "there is no store at [store] path")
    assert err.getvalue() == "mjbot: there is no store at [store] path\n"


# -- on a terminal: rich ----------------------------------------------------------------------------------------


async def test_on_a_terminal_progress_is_a_bar_redrawn_in_place(tmp_path: Path) -> None:
    console, screen = terminal()
    progress = ProgressPrinter(io.StringIO(), console=console)
    progress.show(await a_job(tmp_path, progress=40))
    progress.show(await a_job(tmp_path, progress=90))
    drawn = screen.getvalue()
    assert drawn.count("\r") == 2 and "\n" not in drawn  # one line, rewritten
    assert "━" in drawn and "▰" not in drawn  # rich's bar, not the plain one
    assert " 40%" in drawn and " 90%" in drawn
    assert f"{ESC}36mrunning" in drawn  # the status in colour
    assert f"{ESC}0K" in drawn  # what is left of a longer line is erased


def test_on_a_terminal_a_table_is_drawn_and_prompts_are_not_markup() -> None:
    console, screen = terminal()
    rows = [("abc1234def0", "video", "generate", "failed", "0%", "1:05", "a [bold]kite[/bold] :x:")]
    print_table(io.StringIO(), JOB_COLUMNS, rows, console=console)
    drawn = screen.getvalue()
    assert "─" in drawn  # the rule under the headings
    assert f"{ESC}1m" in drawn and "PROGRESS" in drawn  # bold headings
    assert f"{ESC}31mfailed" in drawn
    assert "a [bold]kite[/bold] :x:" in drawn  # as typed


def test_on_a_terminal_errors_have_a_red_prefix_and_keep_brackets() -> None:
    console, screen = terminal()
    error(io.StringIO(), "config error: [store] path must be text", console=console)
    drawn = screen.getvalue()
    assert f"{ESC}1;31mmjbot: {ESC}0m" in drawn
    assert "config error: [store] path must be text" in drawn


def test_columns_without_a_width_are_not_padded() -> None:
    assert Column("X").plain("ab") == "ab"
    assert Column("X", 4, right=True).plain("ab") == "  ab"


# -- a real command on a pseudo-terminal ----------------------------------------------------------------------------


def run_on_a_terminal(*args: str, cwd: Path) -> str:
    """Run ``mjbot ARGS`` with stdout and stderr on a pseudo-terminal; all it wrote there."""
    controller, attached = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=attached,
        stderr=attached,
        env=env,
    )
    os.close(attached)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the process closed its end
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        assert process.wait(timeout=30) == 0, b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    return b"".join(chunks).decode("utf-8", "replace")


def test_mjbot_jobs_on_a_terminal_draws_a_table(tmp_path: Path) -> None:
    job = asyncio.run(a_job(tmp_path))
    (tmp_path / "config.toml").write_text(f'[store]\npath = "{(tmp_path / "jobs.sqlite3").as_posix()}"\n')
    shown = run_on_a_terminal("jobs", "--config", str(tmp_path / "config.toml"), cwd=tmp_path)
    assert ESC in shown and "─" in shown
    assert job.id in shown and "waves [bold]crash[/bold] :x:" in shown
    piped = subprocess.run(
        [sys.executable, "-m", "bot", "jobs", "--config", str(tmp_path / "config.toml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ESC not in piped.stdout and "─" not in piped.stdout
    assert piped.stdout.splitlines()[0].startswith("JOB         KIND     ACTION")


def test_a_read_only_command_without_a_store_says_so_in_red_on_a_terminal(tmp_path: Path) -> None:
    controller, attached = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "users", "list"], cwd=tmp_path, stdout=attached, stderr=attached, check=False
    )
    os.close(attached)
    said = os.read(controller, 65536).decode("utf-8", "replace")
    os.close(controller)
    assert done.returncode == 1
    assert "mjbot: " in said and f"{ESC}1;31m" in said and "there is no store at" in said
