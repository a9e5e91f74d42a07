"""Runs the API emulator in a child process, so a benchmark's CPU and memory figures are the bot's alone."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOKEN = "bench-token"  # noqa: S105 - the emulator's, on loopback


def _serve(port: int, settings: dict[str, Any]) -> None:
    from bot.acedata.emulator import EmulatorSettings, serve_forever

    asyncio.run(serve_forever(EmulatorSettings(tokens=frozenset({TOKEN}), **settings), "127.0.0.1", port))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def emulator_process(**settings: Any) -> Iterator[str]:
    """Start an emulator in a fresh process; yields its base URL and stops it on exit."""
    port = free_port()
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_serve, args=(port, settings), daemon=True)
    child.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_emulator/state", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                if time.monotonic() > deadline or not child.is_alive():
                    raise RuntimeError("the emulator process did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        child.terminate()
        child.join(5)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` (0-1) percentile by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{title}")
    print(f"  {'measure'.ljust(width)}  {'value':>12}  target")
    for name, value, target in rows:
        print(f"  {name.ljust(width)}  {value:>12}  {target}")
