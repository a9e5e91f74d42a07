"""The store's engine lock: one process at a time, named when it refuses another, gone when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store import StoreError
from bot.store.owner import StoreInUseError, StoreOwner, holder_of, lock_path

HOLD = """
import sys, time
from bot.store.owner import StoreOwner
owner = StoreOwner.try_acquire(sys.argv[1], "mjbot video")
print("held" if owner else "busy", flush=True)
if owner and sys.argv[2] == "stay":
    time.sleep(60)
"""


def other_process(store: Path, then: str = "leave") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store), then], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )


def other_process_gets(store: Path) -> bool:
    process = other_process(store)
    out, _ = process.communicate(timeout=30)
    return out.strip() == "held"


def test_another_process_is_refused_with_the_holders_name_until_the_last_user_lets_go(tmp_path: Path) -> None:
    store = tmp_path / "jobs.sqlite3"
    first = StoreOwner.acquire(store, "mjbot run")
    second = StoreOwner.acquire(store, "mjbot wait")  # the same process: shared, and still named by its first user
    assert second.holder == first.holder and first.holder.command == "mjbot run"
    assert not other_process_gets(store)
    first.release()
    assert not other_process_gets(store)
    second.release()
    second.release()  # twice is harmless
    assert other_process_gets(store)


def test_a_refusal_names_the_process_and_what_to_do(tmp_path: Path) -> None:
    store = tmp_path / "jobs.sqlite3"
    holder = other_process(store, "stay")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreInUseError) as refused:
            StoreOwner.acquire(store, "mjbot imagine")
        message = str(refused.value)
        assert message.startswith(f'the store {store} is in use by "mjbot video" (pid {holder.pid}, since ')
        assert message.endswith(" UTC); stop it, or use another [store] path")
        found = holder_of(store)
        assert found is not None and found.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_the_store_free(tmp_path: Path) -> None:
    store = tmp_path / "jobs.sqlite3"
    holder = other_process(store, "stay")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert lock_path(store).exists()  # the file stays behind; the lock does not
    with StoreOwner.acquire(store, "mjbot run") as owner:
        assert owner.held and owner.holder.pid == os.getpid()
    assert holder_of(store) is None  # released: the file no longer names anyone


def test_every_spelling_of_one_store_leads_to_the_same_lock(tmp_path: Path) -> None:
    real = tmp_path / "data" / "jobs.sqlite3"
    real.parent.mkdir()
    real.write_bytes(b"")
    (tmp_path / "alias.sqlite3").symlink_to(real)  # a link to the file
    (tmp_path / "linked").symlink_to(real.parent)  # a link to its folder
    with StoreOwner.acquire(real, "mjbot run"):
        for spelling in (
            tmp_path / "alias.sqlite3",
            tmp_path / "linked" / "jobs.sqlite3",
            tmp_path / "data" / ".." / "data" / "jobs.sqlite3",
        ):
            assert lock_path(spelling) == lock_path(real)
            assert not other_process_gets(spelling), f"{spelling} was taken beside {real}"


def test_a_lock_file_planted_as_a_link_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    store = tmp_path / "jobs.sqlite3"
    lock_path(store).symlink_to(victim)
    with pytest.raises(StoreError, match="is a symbolic link; remove it"):
        StoreOwner.acquire(store, "mjbot run")
    assert victim.read_text(encoding="utf-8") == "precious"
