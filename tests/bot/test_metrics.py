"""Prometheus metrics, read back as Prometheus reads them: ``GET /metrics`` over HTTP from the bot's own listener,
parsed by prometheus_client's parser. Jobs run through the loopback API (the emulator) and the loopback Discord."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest
from fakediscord import FakeDiscord
from prometheus_client.parser import text_string_to_metric_families

from bot.acedata.models import ImagineGenerate
from bot.config import (
    AceDataSettings,
    CallbackSettings,
    Config,
    ConfigError,
    EmulatorConfig,
    MetricsSettings,
    StoreSettings,
    load_config,
)
from bot.metrics import Metrics
from bot.runtime import Services
from bot.store import JobStatus

if TYPE_CHECKING:
    from discord_kit import Kit
    from fakediscord import InteractionHandle

pytest_plugins = ("discord_kit",)

ROOT = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def fetch(base_url: str | None, path: str = "/metrics") -> tuple[int, str, str]:
    """Status, Content-Type and text of a GET on the listener."""
    assert base_url is not None, "the listener is not running"
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}{path}") as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def scrape(base_url: str | None) -> Samples:
    """Every sample of a scrape, by name and labels (as Prometheus would store them)."""
    status, content_type, text = await fetch(base_url)
    assert status == 200, text
    assert content_type.startswith("text/plain"), content_type
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


async def finished(kit: Kit, handle: InteractionHandle) -> None:
    await kit.wait_done(await kit.job_message(handle))


# -- a job run to the end ----------------------------------------------------------------------------------------


async def test_jobs_run_to_the_end_move_the_counters_and_histograms(kit: Kit) -> None:
    grid, grid_message = await kit.make_grid()
    video, _ = await kit.make_video()
    _, upscale_message = await kit.follow(grid_message, kit.button(grid_message, "img", "upscale1"))
    upscale, _ = await kit.wait_done(upscale_message)
    await finished(kit, await kit.fake.slash("imagine", {"prompt": "a quiet harbour"}, dm=True))
    await kit.settle()

    samples = await scrape(kit.bot.services.web.url if kit.bot.services.web else None)

    assert value(samples, "mjbot_jobs_submitted_total", kind="imagine") == 2  # one in the server, one in DMs
    assert value(samples, "mjbot_jobs_submitted_total", kind="video") == 1
    assert value(samples, "mjbot_jobs_submitted_total", kind="image_action") == 1
    assert value(samples, "mjbot_jobs_submitted_total", kind="extend") == 0
    assert value(samples, "mjbot_jobs_finished_total", kind="imagine", outcome="succeeded") == 2
    assert value(samples, "mjbot_jobs_finished_total", kind="video", outcome="succeeded") == 1
    assert value(samples, "mjbot_jobs_finished_total", kind="image_action", outcome="succeeded") == 1
    assert value(samples, "mjbot_jobs_finished_total", kind="imagine", outcome="failed") == 0
    # Submit -> finished: each job's run, as the store recorded it.
    assert value(samples, "mjbot_job_duration_seconds_count", kind="imagine") == 2
    assert grid.submitted_at is not None and grid.finished_at is not None
    assert 0 < (value(samples, "mjbot_job_duration_seconds_sum", kind="video") or 0) < 10
    assert value(samples, "mjbot_job_duration_seconds_bucket", kind="video", le="+Inf") == 1
    assert value(samples, "mjbot_jobs_running") == 0
    assert value(samples, "mjbot_jobs_queued") == 0
    # Finished -> shown in Discord: each of the four job messages, once.
    assert value(samples, "mjbot_delivery_latency_seconds_count") == 4
    assert 0 < (value(samples, "mjbot_delivery_latency_seconds_sum") or 0) < 20
    # The API: the submits to each endpoint and the polls, all answered 200, and how long they took.
    assert value(samples, "mjbot_api_requests_total", endpoint="imagine", status="200") == 3
    assert value(samples, "mjbot_api_requests_total", endpoint="videos", status="200") == 1
    assert (value(samples, "mjbot_api_requests_total", endpoint="tasks", status="200") or 0) >= 4
    assert value(samples, "mjbot_api_request_duration_seconds_count", endpoint="imagine") == 3
    # Discord: four commands and one click, each acknowledged.
    assert value(samples, "mjbot_discord_interactions_total", type="application_command") == 3
    assert value(samples, "mjbot_discord_interactions_total", type="component") == 1
    assert value(samples, "mjbot_discord_ack_seconds_count") == 4
    assert value(samples, "mjbot_discord_ack_seconds_bucket", le="3.0") == 4  # all within Discord's 3 s
    # Units per server; DMs under "dm".
    assert grid.guild_id is not None and video.guild_id == grid.guild_id == upscale.guild_id
    server_units = value(samples, "mjbot_usage_units_total", guild=str(grid.guild_id))
    assert server_units is not None and server_units > 0
    assert server_units == pytest.approx(await kit.store.usage.usage_total(0.0, guild_id=grid.guild_id))
    dm_units = value(samples, "mjbot_usage_units_total", guild="dm")
    assert dm_units is not None and dm_units == pytest.approx(await kit.store.usage.usage_total(0.0, in_dms=True))


async def test_api_errors_show_as_status_labels(kit: Kit) -> None:
    # The job's first poll is answered 503, the retry is dropped without an answer, the next one works.
    kit.emulator.inject_fault(503, path="/midjourney/tasks")
    kit.emulator.inject_fault(path="/midjourney/tasks", drop=True)
    job, _ = await kit.make_grid(prompt="a storm over the bay")
    assert job.status is JobStatus.SUCCEEDED

    samples = await scrape(kit.bot.services.web.url if kit.bot.services.web else None)

    assert value(samples, "mjbot_api_requests_total", endpoint="tasks", status="503") == 1
    assert value(samples, "mjbot_api_requests_total", endpoint="tasks", status="error") == 1
    assert (value(samples, "mjbot_api_requests_total", endpoint="tasks", status="200") or 0) >= 1
    calls = total(samples, "mjbot_api_requests_total", endpoint="tasks")
    assert value(samples, "mjbot_api_request_duration_seconds_count", endpoint="tasks") == calls


# -- [metrics] enabled = false -----------------------------------------------------------------------------------


async def test_metrics_off_answers_404_and_records_nothing(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    from discord_kit import Kit, kit_config

    path = tmp_path / "config.toml"
    path.write_text("[metrics]\nenabled = false\n", encoding="utf-8")
    assert load_config(path, environ={}).metrics == MetricsSettings(enabled=False)
    config = dataclasses.replace(kit_config(tmp_path, fake_discord), metrics=MetricsSettings(enabled=False))
    kit = Kit(fake_discord, config)
    await kit.start()
    try:
        await kit.make_grid()
        await kit.settle()
        base_url = kit.bot.services.web.url if kit.bot.services.web else None
        status, _, _ = await fetch(base_url)
        assert status == 404
        health, _, _ = await fetch(base_url, "/healthz")
        assert health in (200, 503)  # the listener itself still answers
        metrics = kit.bot.metrics
        assert kit.bot.services.metrics is metrics and not metrics.enabled
        recorded = [
            sample
            for family in metrics.registry.collect()
            for sample in family.samples
            if sample.value and not sample.name.endswith("_created")
        ]
        assert recorded == []
    finally:
        await kit.stop()
    assert fake_discord.unknown_routes == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[metrics]\nenable = true\n", r"unknown key \[metrics\] enable \(did you mean 'enabled'\?\)"),
        ('[metrics]\nenabled = "no"\n', r"\[metrics\] enabled must be true or false"),
        ("[metric]\nenabled = true\n", r"unknown section \[metric\] \(did you mean 'metrics'\?\)"),
    ],
)
def test_a_bad_metrics_section_is_refused(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=error):
        load_config(path, environ={})


def test_metrics_are_on_by_default(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    assert load_config(path, environ={}).metrics.enabled is True
    assert load_config(path, environ={"MJBOT_METRICS_ENABLED": "false"}).metrics.enabled is False


# -- two bots in one process ---------------------------------------------------------------------------------------


def core_config(tmp_path: Path, name: str, *, job_s: float) -> Config:
    """A sandbox core of its own: its store, its emulator, its listener on a free port."""
    return Config(
        acedata=AceDataSettings(base_url="emulator"),
        callback=CallbackSettings(enabled=False, listen_port=0),
        store=StoreSettings(path=str(tmp_path / name / "mjbot.sqlite3")),
        emulator=EmulatorConfig(job_duration_s=job_s, video_duration_s=job_s, listen_port=0),
    )


@contextlib.asynccontextmanager
async def opened(config: Config) -> AsyncIterator[Services]:
    services = await Services.open(config)
    try:
        yield services
    finally:
        await services.close()


async def test_two_bots_in_one_process_keep_separate_registries(tmp_path: Path) -> None:
    async with (
        opened(core_config(tmp_path, "first", job_s=0.1)) as first,
        opened(core_config(tmp_path, "second", job_s=600)) as second,
    ):
        assert first.metrics is not second.metrics and first.metrics.registry is not second.metrics.registry
        done = await first.engine.submit(ImagineGenerate(prompt="a lantern at dusk"), user_id=1, guild_id=10)
        await first.engine.wait(done, timeout=5)
        await first.queue.stop()  # so that the queued job stays queued
        await first.engine.enqueue(ImagineGenerate(prompt="waits its turn"), user_id=1, guild_id=10)
        running = await second.engine.submit(ImagineGenerate(prompt="a long night"), user_id=2, guild_id=20)
        job = await second.engine.get(running)
        assert job is not None and job.status is JobStatus.RUNNING  # accepted, and followed until its end

        one = await scrape(first.web.url if first.web else None)
        two = await scrape(second.web.url if second.web else None)

    assert value(one, "mjbot_jobs_submitted_total", kind="imagine") == 1
    assert value(one, "mjbot_jobs_finished_total", kind="imagine", outcome="succeeded") == 1
    assert value(one, "mjbot_jobs_running") == 0
    assert value(one, "mjbot_jobs_queued") == 1
    assert (value(one, "mjbot_usage_units_total", guild="10") or 0) > 0
    assert value(one, "mjbot_usage_units_total", guild="20") is None

    assert value(two, "mjbot_jobs_submitted_total", kind="imagine") == 1
    assert value(two, "mjbot_jobs_finished_total", kind="imagine", outcome="succeeded") == 0
    assert value(two, "mjbot_jobs_running") == 1
    assert value(two, "mjbot_jobs_queued") == 0
    assert value(two, "mjbot_usage_units_total", guild="10") is None
    assert value(two, "mjbot_job_duration_seconds_count", kind="imagine") == 0


# -- the sample dashboard ------------------------------------------------------------------------------------------


async def test_the_dashboard_queries_only_metrics_the_bot_serves() -> None:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    served = {family.name + suffix for family in Metrics().registry.collect() for suffix in suffixes[family.type]}
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    named = {name for query in queries for name in re.findall(r"\bmjbot_\w+", query)}
    assert named, "the dashboard queries nothing"
    assert named - served == set()
    # Every metric the bot serves has a panel.
    assert {family.name for family in Metrics().registry.collect()} <= {
        name.removesuffix("_bucket").removesuffix("_total") for name in named
    }
