"""Which process drives the jobs of a store: one engine per SQLite file.

The engine settles, resends and finishes the unfinished jobs it finds in its store. Two engines on
one file (the bot and a CLI job command, say) would each do that behind the other's back: both
would resend the same unconfirmed job, and so pay for it twice. So the process that runs an engine
first takes an exclusive lock on ``<store>.lock`` beside the database, and a second one refuses to
start. The lock is an OS file lock (``flock``): it goes away with the process that holds it, so a
crashed owner never blocks the next start. The file itself says who holds it (pid, host, command,
start time), so the refusal can name the process to stop.

Within one process the lock is shared: taking it again (the CLI before it starts the bot, then the
bot's services) only counts one more user, and it is released when the last one lets go.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from .errors import StoreError

#: How long a refused caller re-reads a lock file that its holder may still be writing.
_READ_RETRY_S = 0.5


@dataclass(frozen=True, slots=True)
class StoreHolder:
    """The process that holds a store's lock, as it wrote itself into the lock file."""

    pid: int
    hostname: str
    command: str
    started_at: float

    def describe(self, *, now: float | None = None) -> str:
        """``"mjbot run" (pid 1234, since 12:03 UTC)``, with the host and date when they are not this one's."""
        started = datetime.fromtimestamp(self.started_at, UTC)
        today = datetime.fromtimestamp(time.time() if now is None else now, UTC).date()
        since = started.strftime("%H:%M UTC") if started.date() == today else started.strftime("%Y-%m-%d %H:%M UTC")
        where = "" if self.hostname == socket.gethostname() else f" on {self.hostname}"
        return f'"{self.command}" (pid {self.pid}{where}, since {since})'


class StoreInUseError(StoreError):
    """Another process runs the engine on this store; the message names it and says what to do."""

    def __init__(self, store_path: Path, holder: StoreHolder | None) -> None:
        self.store_path = store_path
        self.holder = holder
        who = holder.describe() if holder is not None else "another process"
        super().__init__(f"the store {store_path} is in use by {who}; stop it, or use another [store] path")


def lock_path(store_path: str | os.PathLike[str]) -> Path:
    """The lock file of a store: ``<store>.lock`` beside the database file itself.

    The path is resolved first (links followed, ``..`` folded), so every spelling of one store, a symbolic
    link to the file or to its folder included, leads to the same lock. (A hard link to the database file is
    another name that cannot be traced back; don't give one store two hard-linked names.)
    """
    store = Path(os.path.realpath(store_path))
    return store.with_name(store.name + ".lock")


@dataclass(slots=True)
class _Held:
    fd: int
    users: int
    holder: StoreHolder


#: Locks this process holds, by the lock file's real path.
_HELD: dict[str, _Held] = {}


class StoreOwner:
    """This process's hold on a store; ``release`` it when the engine stops (or use ``with``)."""

    def __init__(self, store_path: Path, key: str, holder: StoreHolder) -> None:
        self.store_path = store_path
        self.holder = holder
        self._key: str | None = key

    @classmethod
    def acquire(cls, store_path: str | os.PathLike[str], command: str) -> Self:
        """Take the store for this process, or raise :class:`StoreInUseError` naming the process that has it."""
        owner = cls.try_acquire(store_path, command)
        if owner is None:
            raise StoreInUseError(Path(store_path), holder_of(store_path))
        return owner

    @classmethod
    def try_acquire(cls, store_path: str | os.PathLike[str], command: str) -> Self | None:
        """Take the store for this process; ``None`` (at once, without waiting) if another process has it."""
        store = Path(store_path)
        path = lock_path(store)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = str(path.resolve())
            held = _HELD.get(key)
            if held is not None:
                held.users += 1
                return cls(store, key, held.holder)
            # Never through a link: a lock file planted as a link would have the holder written over its target.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StoreError(
                    f"the lock file {path} of the store is a symbolic link; remove it (mjbot makes its own)"
                ) from exc
            raise StoreError(f"cannot open the lock file {path} of the store: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock {path}: {exc}") from exc
        holder = StoreHolder(os.getpid(), socket.gethostname(), command, time.time())
        try:
            _write_holder(fd, holder)
        except OSError as exc:
            os.close(fd)  # closing the only descriptor releases the lock
            raise StoreError(f"cannot write the lock file {path}: {exc}") from exc
        _HELD[key] = _Held(fd, 1, holder)
        return cls(store, key, holder)

    @property
    def held(self) -> bool:
        return self._key is not None

    def release(self) -> None:
        """Let go of the store (the lock itself goes when the last user in this process lets go). Safe twice."""
        key, self._key = self._key, None
        if key is None:
            return
        held = _HELD.get(key)
        if held is None:
            return
        held.users -= 1
        if held.users > 0:
            return
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.ftruncate(held.fd, 0)  # a stale description would only mislead whoever reads it next
        os.close(held.fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def holder_of(store_path: str | os.PathLike[str]) -> StoreHolder | None:
    """Who holds the store's lock, as the lock file says; ``None`` if it says nothing readable."""
    path = lock_path(store_path)
    deadline = time.monotonic() + _READ_RETRY_S
    while True:
        try:
            holder = _parse_holder(path.read_text(encoding="utf-8"))
        except OSError:
            return None
        if holder is not None or time.monotonic() >= deadline:
            return holder
        time.sleep(0.05)  # the holder may be writing it right now


def _write_holder(fd: int, holder: StoreHolder) -> None:
    text = json.dumps(
        {"pid": holder.pid, "hostname": holder.hostname, "command": holder.command, "started_at": holder.started_at}
    )
    data = (text + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _parse_holder(text: str) -> StoreHolder | None:
    try:
        raw: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    pid, hostname, command, started_at = (raw.get(key) for key in ("pid", "hostname", "command", "started_at"))
    if not isinstance(pid, int) or not isinstance(hostname, str) or not isinstance(command, str):
        return None
    if not isinstance(started_at, int | float) or isinstance(started_at, bool):
        return None
    return StoreHolder(pid, hostname, command, float(started_at))
