"""The CLI on a PostgreSQL store: jobs run, list and extend there, two commands at once share it, and the
password never reaches the terminal."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import FAST, free_port, mjbot, sample

pytestmark = pytest.mark.postgres


@pytest.fixture
def config(tmp_path: Path, postgres_url: str) -> Path:
    path = tmp_path / "config.toml"
    text = FAST.format(store=(tmp_path / "beside.sqlite3").as_posix(), port=free_port())
    path.write_text(text.replace("[store]\n", f'[store]\nurl = "{postgres_url}"\n'), encoding="utf-8")
    return path


def test_a_video_runs_extends_and_lists_on_postgresql(config: Path, tmp_path: Path) -> None:
    video = mjbot("video", "waves on rocks", "--image", sample(config, "rocks"), "--config", str(config), cwd=tmp_path)
    assert video.returncode == 0, video.stderr
    job_id = re.search(r"Job (\w+) done", video.stdout)
    assert job_id, video.stdout

    extend = mjbot("extend", job_id.group(1), "--index", "1", "--config", str(config), cwd=tmp_path)
    assert extend.returncode == 0, extend.stderr + extend.stdout

    listing = mjbot("jobs", "--config", str(config), cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines()[1:] if line.strip()]
    assert [row.split()[2] for row in rows] == ["extend", "generate"]
    assert not (tmp_path / "beside.sqlite3").exists(), "an SQLite store was made beside the PostgreSQL one"


def test_two_commands_at_once_share_the_postgresql_store(config: Path, tmp_path: Path) -> None:
    """On SQLite the second command waits for or refuses the store; on PostgreSQL both run, each its own job."""
    commands = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "imagine", f"a fox number {n}", "--config", str(config)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    outputs = [command.communicate(timeout=60) for command in commands]
    assert [command.returncode for command in commands] == [0, 0], outputs
    done = {match for out, _ in outputs for match in re.findall(r"Job (\w+) done", out)}
    assert len(done) == 2


def test_the_store_password_is_never_printed(tmp_path: Path, postgres_url: str) -> None:
    wrong = re.sub(r"//([^:@/]+)(:[^@]*)?@", r"//\1:hunter2-secret@", postgres_url).rsplit("/", 1)[0] + "/nosuchdb"
    listing = mjbot("jobs", cwd=tmp_path, env={"MJBOT_STORE_URL": wrong})
    assert listing.returncode != 0
    assert "hunter2-secret" not in listing.stdout + listing.stderr
    assert "does not exist" in listing.stderr and "***" in listing.stderr
