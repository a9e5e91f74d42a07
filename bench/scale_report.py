"""The figures of ``bench_scale.py``: what the engine processes wrote down, read back and checked."""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator_process import percentile, print_table

if TYPE_CHECKING:
    from bench_scale import Run


def read_journal(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


def windows(start: float, end: float, size: float) -> list[tuple[float, float]]:
    count = max(1, int((end - start) // size))
    return [(start + i * size, start + (i + 1) * size) for i in range(count)]


def analyse(run: Run, tasks: dict[str, str]) -> dict[str, Any]:
    poll, marks, n, p = run.args.poll_s, run.marks, len(tasks), run.processes
    journals = [read_journal(path) for path in run.paths]
    ticks = [[e for e in journal if e["t"] == "tick"] for journal in journals]
    polls = [[(at, ids) for tick in mine for at, ids in tick["polls"]] for mine in ticks]
    job_of = {task: job for job, task in tasks.items()}

    def per_window(start: float, end: float) -> tuple[int, int]:
        """The most requests in one window across the fleet, and the most ids two processes polled in one.

        A request counts in the window its tick began in: a window placed by the requests' own times can hold the
        end of one tick's burst and the start of the next, when the two bursts were not equally late.
        """
        most_requests = most_shared = 0
        for low, high in windows(start, end, poll):
            seen: Counter[str] = Counter()
            requests = sum(len(tick["polls"]) for mine in ticks for tick in mine if low <= tick["began"] < high)
            for mine in polls:
                seen.update({task for at, batch in mine if low <= at < high for task in batch})
            most_requests = max(most_requests, requests)
            most_shared = max(most_shared, sum(1 for count in seen.values() if count > 1))
        return most_requests, most_shared

    def per_fleet_tick(start: float, end: float) -> int:
        sums: Counter[int] = Counter()
        for mine in ticks:
            for tick in mine:
                if start <= tick["began"] < end:
                    sums[tick["n"]] += len(tick["polls"])
        return max(sums.values(), default=0)

    steady_window, steady_shared = per_window(marks["steady"], marks["steady_end"])
    after_window, after_shared = per_window(marks["after"], marks["after_end"])
    after_tick = per_fleet_tick(marks["after"], marks["after_end"])
    _, whole_shared = per_window(marks["go"], marks["after_end"] + 2 * poll)
    first_poll: dict[str, float] = {}
    for i, mine in enumerate(polls):
        if i != run.victim:
            for at, batch in mine:
                for task in batch:
                    if at > marks["kill"] and task in run.victim_tasks and at < first_poll.get(task, math.inf):
                        first_poll[task] = at
    succeeded: Counter[str] = Counter(
        e["job"] for journal in journals for e in journal if e["t"] == "event" and e["type"] == "succeeded"
    )
    ended_jobs = {job_of[task] for task in run.finished}
    steady: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for i, mine in enumerate(ticks):
        steady[i] = [tick for tick in mine if marks["steady"] <= tick["began"] < marks["steady_end"]]
    return {
        "processes": p,
        "jobs": n,
        "lease_s": run.args.lease_s,
        "poll_s": poll,
        "bound": math.ceil(n / 50) + p,
        "all_held_after_go_s": marks["all_held"] - marks["go"],
        "split_before": run.split_before,
        "split_after": run.split_after,
        "requests_per_window_max": steady_window,
        "requests_per_fleet_tick_max": per_fleet_tick(marks["steady"], marks["steady_end"]),
        "emulator_requests_per_window": run.emulator_requests_per_window,
        "requests_per_window_after_max": after_window,
        "requests_per_fleet_tick_after_max": after_tick,
        "shared_ids_steady_max": steady_shared,
        "shared_ids_after_max": after_shared,
        "shared_ids_whole_run_max": whole_shared,
        "victim_jobs": len(run.victim_tasks),
        "victim_leases_end_s": run.victim_leases_end_s,
        "taken_over_s": marks["taken_over"] - marks["kill"],
        "all_polled_s": (max(first_poll.values()) - marks["kill"])
        if len(first_poll) == len(run.victim_tasks)
        else math.inf,
        "victim_jobs_never_polled": len(run.victim_tasks) - len(first_poll),
        "emulator_tasks": run.task_count,
        "ended": len(ended_jobs),
        "announced_once": sum(1 for job in ended_jobs if succeeded[job] == 1),
        "announced_more": sum(1 for job in ended_jobs if succeeded[job] > 1),
        "announced_never": sum(1 for job in ended_jobs if succeeded[job] == 0),
        "announced_not_ended": sum(1 for job in succeeded if job not in ended_jobs),
        "per_process": [
            {
                "jobs": statistics.median([t["tracked"] for t in mine]) if mine else 0,
                "cpu_ms_median": statistics.median([t["cpu_ms"] for t in mine]) if mine else math.nan,
                "cpu_ms_p90": percentile([t["cpu_ms"] for t in mine], 0.9),
                "lease_cpu_ms_median": statistics.median([t["lease_cpu_ms"] for t in mine]) if mine else math.nan,
                "lease_wall_ms_median": statistics.median([t["lease_wall_ms"] for t in mine]) if mine else math.nan,
                "apply_cpu_ms_median": statistics.median([t["apply_cpu_ms"] for t in mine]) if mine else math.nan,
                "wall_ms_median": statistics.median([(t["ended"] - t["began"]) * 1000 for t in mine])
                if mine
                else math.nan,
                "wall_ms_max": max([(t["ended"] - t["began"]) * 1000 for t in mine], default=math.nan),
            }
            for mine in steady.values()
        ],
        # Known only for a server this bench started (None in the JSON otherwise).
        "server_cpu_ms_per_window": None if math.isnan(run.server_cpu_per_window) else run.server_cpu_per_window * 1000,
    }


def failures(figures: dict[str, Any]) -> list[str]:
    bound, p = figures["bound"], figures["processes"]
    checks = {
        "requests per window over the bound": figures["requests_per_window_max"] > bound,
        "requests per fleet tick over the bound": figures["requests_per_fleet_tick_max"] > bound,
        "requests per window after the kill over the bound": figures["requests_per_window_after_max"] > bound - 1,
        "requests per fleet tick after the kill over the bound": figures["requests_per_fleet_tick_after_max"]
        > bound - 1,
        "ids polled by two processes in one window": figures["shared_ids_whole_run_max"] > 0,
        "take-over slower than lease + 2 polls": figures["all_polled_s"] > figures["lease_s"] + 2 * figures["poll_s"],
        "emulator tasks != jobs": figures["emulator_tasks"] != figures["jobs"],
        "an ended job announced twice, never, or a running one announced": figures["announced_once"] != figures["ended"]
        or figures["announced_not_ended"] > 0,
    }
    return [f"P={p}: {name}" for name, failed in checks.items() if failed]


def report(figures: dict[str, Any]) -> None:
    f, bound = figures, figures["bound"]
    rows = [
        ("setup: jobs submitted through an engine in", f"{f['setup_submit_s']:.1f} s", ""),
        ("jobs held per process after the start", " / ".join(map(str, f["split_before"])), ""),
        ("every job held, after the start signal", f"{f['all_held_after_go_s']:.1f} s", ""),
        ("task requests per window, fleet, max", f"{f['requests_per_window_max']}", f"<= {bound}"),
        ("task requests per fleet tick, max", f"{f['requests_per_fleet_tick_max']}", f"<= {bound}"),
        ("  seen by the emulator, mean per window", f"{f['emulator_requests_per_window']:.1f}", f"<= {bound}"),
        ("ids polled by two processes in a window", f"{f['shared_ids_steady_max']}", "0"),
        ("  the same, whole run (start, kill, after)", f"{f['shared_ids_whole_run_max']}", "0"),
        ("kill -9 of the busiest: its jobs", f"{f['victim_jobs']}", ""),
        ("  its leases ran out after the kill", f"{f['victim_leases_end_s']:.1f} s", f"<= lease = {f['lease_s']:g} s"),
        ("  survivors hold all its leases after", f"{f['taken_over_s']:.1f} s", ""),
        (
            "    that is, after they ran out",
            f"{f['taken_over_s'] - f['victim_leases_end_s']:.1f} s",
            f"<= poll = {f['poll_s']:g} s (+ store reads 0.2 s apart)",
        ),
        (
            "  each of its jobs polled by a survivor after",
            f"{f['all_polled_s']:.1f} s",
            f"<= lease + poll = {f['lease_s'] + f['poll_s']:g} s",
        ),
        ("task requests per window after, max", f"{f['requests_per_window_after_max']}", f"<= {bound - 1}"),
        ("task requests per fleet tick after, max", f"{f['requests_per_fleet_tick_after_max']}", f"<= {bound - 1}"),
        ("jobs held per process after the take-over", " / ".join(map(str, f["split_after"])), ""),
        ("emulator tasks (submits)", f"{f['emulator_tasks']}", f"== {f['jobs']}"),
        ("ended jobs announced exactly once", f"{f['announced_once']} of {f['ended']}", f"{f['ended']}"),
        (
            "  twice or more / never / not ended",
            f"{f['announced_more']} / {f['announced_never']} / {f['announced_not_ended']}",
            "0 / 0 / 0",
        ),
    ]
    for i, proc in enumerate(f["per_process"]):
        rows += [
            (
                f"process {i} ({proc['jobs']:.0f} jobs): CPU per tick median / p90",
                f"{proc['cpu_ms_median']:.0f} / {proc['cpu_ms_p90']:.0f} ms",
                "",
            ),
            (
                "  lease step CPU / wall, median",
                f"{proc['lease_cpu_ms_median']:.1f} / {proc['lease_wall_ms_median']:.1f} ms",
                "",
            ),
            ("  answers' writes + events CPU, median", f"{proc['apply_cpu_ms_median']:.1f} ms", ""),
            ("  tick wall time median / max", f"{proc['wall_ms_median']:.0f} / {proc['wall_ms_max']:.0f} ms", ""),
        ]
    server = f["server_cpu_ms_per_window"]
    rows.append(("PostgreSQL server CPU per window", "n/a" if server is None else f"{server:.0f} ms", ""))
    print_table(
        f"{f['processes']} engine processes, {f['jobs']} running jobs, lease {f['lease_s']:g} s, "
        f"poll every {f['poll_s']:g} s (steady state: windows of one poll interval)",
        rows,
    )
