"""Benchmark of many members clicking one job's buttons at once: how soon every click is acknowledged.

Everything runs in this process, on loopback: the loopback Discord server of the tests, the real bot (every
cog, discord.py, the job engine, SQLite in a temporary directory) and the sandbox emulator. One member makes
an image grid in a server whose buttons anyone may press; then ``--members`` distinct members click its
buttons at the same moment, while the API takes ``--api-delay`` seconds to accept each submit (a real API
takes about that long; clicks on the same button wait for each other, and each member's turn waits for
their previous submit). Two rounds, each against a fresh bot:

- ``same button``: everyone clicks U1, the case where clicks queue behind one another's submit;
- ``mixed``: each member clicks one of U1-U4, V1-V4 and reroll, in turn.

Measured from the outside, for each click: from the moment the loopback Discord sends the INTERACTION_CREATE
to the moment it receives the bot's acknowledgement (target p99 < 250 ms; Discord drops a click not
acknowledged within 3 s, and the member sees nothing until then). Then the outcome: jobs started, and
clicks answered in private (a repeated click is told the first one is on its way).

Run: ``python bench/bench_clicks.py [--members N] [--api-delay S] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the loopback Discord server

from bench_burst import TARGET_P99_MS, burst_bot
from emulator_process import percentile, print_table
from fakediscord import FakeDiscord, FakeMessage, InteractionHandle

from bot.settings import update_guild_settings

#: The buttons of a grid that start a job, as (kind, argument) in custom ids ``mj:{kind}:{job}:{argument}``.
GRID_BUTTONS = (
    [("img", f"upscale{n}") for n in range(1, 5)]
    + [("img", f"variation{n}") for n in range(1, 5)]
    + [("img", "reroll")]
)


def button(message: FakeMessage, kind: str, arg: str | None = None) -> str:
    for custom_id in message.custom_ids:
        parts = custom_id.split(":")
        if parts[:2] == ["mj", kind] and (arg is None or parts[3:] == [arg]):
            return custom_id
    raise LookupError(f"no {kind}:{arg} button on the grid: {message.custom_ids}")


async def finished_grid(fake: FakeDiscord, owner: Any) -> FakeMessage:
    handle = await fake.slash("imagine", {"prompt": "a harbour at dawn"}, user=owner)
    return await handle.wait_for_original(lambda m: any(":upscale1" in c for c in m.custom_ids), timeout=60)


def settled(handle: InteractionHandle) -> bool:
    """The click ended: its job's message shows a job, or the member got a private answer."""
    return any(m.ephemeral and not m.loading for m in handle.messages) or any(
        not m.ephemeral and m.embeds for m in handle.messages
    )


async def one_round(members: int, *, same_button: bool, api_delay_s: float) -> dict[str, Any]:
    async with burst_bot(freeze=True) as (fake, bot):
        users = []
        for n in range(members):
            user = fake.add_user(f"member{n:03d}")
            fake.add_member(fake.guild, user)
            users.append(user)
        store = bot.services.store
        await update_guild_settings(store, fake.guild.id, lambda s: dataclasses.replace(s, button_policy="everyone"))
        grid = await finished_grid(fake, users[0])
        choices = [button(grid, kind, arg) for kind, arg in GRID_BUTTONS]
        emulator = bot.services.emulator
        assert emulator is not None
        tasks_before = emulator.task_count
        if api_delay_s > 0:
            emulator.inject_fault(path="/midjourney/imagine", delay_s=api_delay_s, count=members)

        started = time.monotonic()
        handles: list[InteractionHandle] = await asyncio.gather(
            *(
                fake.click(grid, choices[0] if same_button else choices[n % len(choices)], user=user)
                for n, user in enumerate(users)
            )
        )
        await fake.wait_for(lambda: all(h.acknowledged for h in handles), timeout=60, what="every acknowledgement")
        acked_s = time.monotonic() - started
        delays = [(h.ack_delay or 0.0) * 1000 for h in handles]
        await fake.wait_for(lambda: all(settled(h) for h in handles), timeout=60, what="every click to end")
        done_s = time.monotonic() - started
        private = sum(1 for h in handles if any(m.ephemeral for m in h.messages))
        tasks = emulator.task_count - tasks_before
        modal_or_late = sum(1 for h in handles if (h.ack_delay or 0.0) >= 3.0)
    return {
        "members": members,
        "same_button": same_button,
        "api_delay_s": api_delay_s,
        "ack_p50_ms": percentile(delays, 0.50),
        "ack_p95_ms": percentile(delays, 0.95),
        "ack_p99_ms": percentile(delays, 0.99),
        "ack_max_ms": max(delays),
        "acks_after_3s": modal_or_late,
        "all_acked_s": acked_s,
        "jobs_started": tasks,
        "private_answers": private,
        "all_done_s": done_s,
    }


def report_rows(run: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        ("ack p50", f"{run['ack_p50_ms']:.1f} ms", ""),
        ("ack p95", f"{run['ack_p95_ms']:.1f} ms", ""),
        ("ack p99", f"{run['ack_p99_ms']:.1f} ms", f"< {TARGET_P99_MS:g} ms"),
        ("ack max", f"{run['ack_max_ms']:.1f} ms", "< 3000 ms (Discord's limit)"),
        ("acks after 3 s (dropped by Discord)", str(run["acks_after_3s"]), "0"),
        ("all acknowledged after", f"{run['all_acked_s']:.2f} s", ""),
        ("jobs started", str(run["jobs_started"]), ""),
        ("clicks answered in private", str(run["private_answers"]), ""),
        ("all clicks ended after", f"{run['all_done_s']:.2f} s", ""),
    ]


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--members", type=int, default=20, help="members clicking at the same moment")
    parser.add_argument("--api-delay", type=float, default=0.5, help="seconds the API takes to accept a submit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    runs = {
        "same button": await one_round(args.members, same_button=True, api_delay_s=args.api_delay),
        "mixed": await one_round(args.members, same_button=False, api_delay_s=args.api_delay),
    }
    if args.json:
        print(json.dumps(runs, indent=2))
        return 0
    for name, run in runs.items():
        title = (
            f"{run['members']} members click the grid's buttons at once ({name}; API accepts in {args.api_delay:g} s)"
        )
        print_table(title, report_rows(run))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
