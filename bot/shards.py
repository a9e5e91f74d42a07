"""Whether the bot's Discord shards are connected, in the terms ``/healthz`` reports: per shard, and all together."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any


class GatewayWatch:
    """When one gateway connection (a shard) connected and dropped."""

    #: A gateway that stays away longer than this makes the bot unhealthy (discord.py reconnects by itself before).
    GRACE_S = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ever_connected = False
        self._down_since: float | None = clock()

    @property
    def is_connected(self) -> bool:
        return self._down_since is None

    def connected(self) -> None:
        self._ever_connected, self._down_since = True, None

    def disconnected(self) -> None:
        if self._down_since is None:
            self._down_since = self._clock()

    def problem(self) -> str | None:
        """Why Discord counts as unhealthy: never connected yet, or away for longer than ``GRACE_S``."""
        if not self._ever_connected:
            return "not connected to Discord yet"
        if self._down_since is None:
            return None
        away = self._clock() - self._down_since
        return f"disconnected from Discord for {away:.0f} s" if away > self.GRACE_S else None


class ShardWatch:
    """A ``GatewayWatch`` for each shard this process runs; Discord is healthy when every one of them is.

    discord.py says ``ready`` once, when all shards are first ready, and not again when one shard identifies anew
    after a drop: so each shard is followed on its own (``shard_ready``, ``shard_resumed``, ``shard_disconnect``).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._watches: dict[int, GatewayWatch] = {}

    def _watch(self, shard_id: int) -> GatewayWatch:
        watch = self._watches.get(shard_id)
        if watch is None:
            watch = self._watches[shard_id] = GatewayWatch(self._clock)
        return watch

    def connected(self, shard_id: int) -> None:
        self._watch(shard_id).connected()

    def disconnected(self, shard_id: int) -> None:
        self._watch(shard_id).disconnected()

    def is_connected(self, shard_ids: Iterable[int]) -> bool:
        """Whether every one of ``shard_ids`` is connected (and there is at least one)."""
        ids = list(shard_ids)
        return bool(ids) and all(self._watch(shard_id).is_connected for shard_id in ids)

    def problem(self, shard_ids: Iterable[int]) -> str | None:
        """Why Discord counts as unhealthy, naming the shards at fault when there are several; None when it is not.

        No shards yet (discord.py has not asked Discord how many) is "not connected to Discord yet".
        """
        ids = list(shard_ids)
        if not ids:
            return "not connected to Discord yet"
        failing = [(shard_id, why) for shard_id in ids if (why := self._watch(shard_id).problem())]
        if not failing:
            return None
        if len(ids) == 1:
            return failing[0][1]
        return "; ".join(f"shard {shard_id} {why}" for shard_id, why in failing)

    def report(self, shard_ids: Iterable[int], latencies: Mapping[int, float]) -> list[dict[str, Any]]:
        """Each shard's id, whether it is connected and its heartbeat latency (None before the first one)."""
        return [
            {
                "id": shard_id,
                "connected": self._watch(shard_id).is_connected,
                "latency_ms": milliseconds(latencies.get(shard_id, math.nan)),
            }
            for shard_id in shard_ids
        ]


def milliseconds(seconds: float) -> float | None:
    """A latency for JSON: milliseconds to one decimal, or None when there is no measure yet (nan, infinity)."""
    return round(seconds * 1000, 1) if math.isfinite(seconds) else None
