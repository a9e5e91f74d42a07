"""Which result files a job message carries: only real clips and pictures, and only from where the API may send them.

The delivery cog's result cache against a real HTTP server on loopback and a real SQLite store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.addresses import ANYWHERE, NOWHERE
from bot.config import AceDataSettings
from bot.store import Store
from bot.store.models import Job, JobKind, JobResult, JobStatus, NewJob
from cogs.delivery.media import ResultCache

MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
LIMIT = 10 * 1024 * 1024


@pytest.fixture
async def cdn() -> AsyncIterator[str]:
    async def clip(_request: web.Request) -> web.Response:
        return web.Response(body=MP4, content_type="video/mp4")

    async def picture(_request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Sign in to continue</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/clip{n}.mp4", clip)
    app.router.add_get("/grid.png", picture)
    app.router.add_get("/page", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "jobs.sqlite3")
    yield opened
    await opened.close()


async def finished(store: Store, kind: JobKind, result: JobResult) -> Job:
    job = await store.jobs.create_job(NewJob(kind, "generate", "waves", params={}))
    await store.jobs.mark_submitted(job.id, f"task-{job.id}")
    done, _ = await store.jobs.finish_job(job.id, JobStatus.SUCCEEDED, result=result)
    return done


async def test_clips_and_pictures_are_attached(cdn: str, store: Store) -> None:
    video = await finished(store, JobKind.VIDEO, JobResult(video_urls=tuple(f"{cdn}/clip{n}.mp4" for n in range(4))))
    grid = await finished(store, JobKind.IMAGINE, JobResult(image_url=f"{cdn}/grid.png"))
    cache = ResultCache(private=ANYWHERE, linger_s=5)
    try:
        clips = await cache.files_for(video, LIMIT)
        picture = await cache.files_for(grid, LIMIT)
    finally:
        await cache.close()
    assert clips.names == ("clip1.mp4", "clip2.mp4", "clip3.mp4", "clip4.mp4") and clips.shown_links == ()
    assert picture.names == ("grid.png",) and picture.files[0][1] == PNG


async def test_a_result_served_as_a_web_page_is_linked_not_attached(cdn: str, store: Store) -> None:
    urls = (f"{cdn}/clip1.mp4", f"{cdn}/page", f"{cdn}/clip3.mp4", f"{cdn}/clip4.mp4")
    video = await finished(store, JobKind.VIDEO, JobResult(video_urls=urls))
    picture_as_clip = await finished(store, JobKind.VIDEO, JobResult(video_urls=(f"{cdn}/grid.png",)))
    page_as_grid = await finished(store, JobKind.IMAGINE, JobResult(image_url=f"{cdn}/page"))
    cache = ResultCache(private=ANYWHERE, linger_s=5)
    try:
        for job in (video, picture_as_clip, page_as_grid):
            shown = await cache.files_for(job, LIMIT)
            assert shown.files == (), job.video_urls or job.image_url
            assert shown.shown_links == (job.video_urls or (job.image_url,))
    finally:
        await cache.close()


async def test_with_a_public_api_a_result_on_a_private_address_is_not_fetched(cdn: str, store: Store) -> None:
    video = await finished(store, JobKind.VIDEO, JobResult(video_urls=tuple(f"{cdn}/clip{n}.mp4" for n in range(4))))
    public_api = AceDataSettings(base_url="https://api.acedata.cloud")
    cache = ResultCache(private=ANYWHERE if public_api.media_may_be_private else NOWHERE, linger_s=5)
    try:
        shown = await cache.files_for(video, LIMIT)
    finally:
        await cache.close()
    assert shown.files == () and shown.shown_links == video.video_urls


@pytest.mark.parametrize(
    ("base_url", "private_ok"),
    [
        ("emulator", True),
        ("http://127.0.0.1:8787", True),
        ("http://localhost:8787/", True),
        ("http://[::1]:8787", True),
        ("http://10.0.0.5", True),
        ("https://api.acedata.cloud", False),
        ("https://93.184.216.34", False),
        ("https://localhost.example.com", False),
    ],
)
def test_media_may_come_from_private_addresses_only_when_the_api_is_there(base_url: str, private_ok: bool) -> None:
    assert AceDataSettings(base_url=base_url).media_may_be_private is private_ok
