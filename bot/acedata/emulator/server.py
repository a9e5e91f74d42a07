"""The loopback emulator of the Ace Data Cloud Midjourney API: a test fixture and a no-credit sandbox."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .admin import AdminHandlers
from .api import ApiHandlers
from .cdn import MediaHandlers
from .engine import Engine
from .faults import Fault
from .frames import FrameFetch
from .settings import EmulatorSettings, RecordedRequest
from .tasks import TaskView

log = logging.getLogger(__name__)


class Emulator:
    """An aiohttp app that answers like the Midjourney API, with media it hosts itself.

    Tasks advance with ``clock`` and are only brought up to date when read, so thousands of idle
    tasks cost nothing; those with a waiter (held request, stream, callback) end on time through
    one shared timer. ``finish`` ends a task at once and wakes its waiters.
    """

    def __init__(self, settings: EmulatorSettings | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._clock_offset = 0.0
        self._engine = Engine(settings or EmulatorSettings(), lambda: clock() + self._clock_offset)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.app = web.Application()
        api = ApiHandlers(self._engine, self._media_base)
        media = MediaHandlers(self._engine)
        self.app.router.add_post("/midjourney/{endpoint}", api.handle)
        self.app.router.add_get("/media/images/{task_id}/{name}", media.image)
        self.app.router.add_get("/media/videos/{task_id}/{name}", media.video)
        self.app.router.add_get("/samples/{name}.png", media.sample)
        AdminHandlers(self).add_routes(self.app)
        self.app.on_shutdown.append(self._on_shutdown)
        self.app.on_cleanup.append(self._on_cleanup)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: any free port) and return the base URL.

        With ``settings.state_path``, the first start takes back the tasks saved there.
        """
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        if self.settings.state_path and self._engine.state is None:
            await self._engine.open_state(Path(self.settings.state_path))
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0][1]
        shown_host = "127.0.0.1" if host in ("", "0.0.0.0") else ("[::1]" if host == "::" else host)  # noqa: S104
        if ":" in shown_host and not shown_host.startswith("["):
            shown_host = f"[{shown_host}]"
        self._url = f"http://{shown_host}:{bound}"
        log.info("emulator: listening on %s", self._url)
        return self._url

    async def stop(self) -> None:
        """Stop listening, cancel pending callbacks, save the tasks (if kept in a file) and forget the URL."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        else:
            await self._engine.close()
        self._url = None

    async def save(self) -> None:
        """Write the tasks to the state file now (with ``settings.state_path``) rather than a moment later."""
        if self._engine.state is not None:
            await self._engine.state.flush()

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._engine.wake_all_for_shutdown()

    async def _on_cleanup(self, _app: web.Application) -> None:
        await self._engine.close()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not listening; call start() first")
        return self._url

    # -- knobs and inspection ------------------------------------------------------------------

    @property
    def settings(self) -> EmulatorSettings:
        return self._engine.settings

    @settings.setter
    def settings(self, value: EmulatorSettings) -> None:
        self._engine.settings = value

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API call received so far, oldest first (clear it to start a new count)."""
        return self._engine.requests

    @property
    def task_count(self) -> int:
        return len(self._engine.store)

    def inject_fault(
        self,
        status: int | None = None,
        *,
        path: str | None = None,
        count: int = 1,
        retry_after: float | None = None,
        delay_s: float = 0.0,
        drop: bool = False,
        code: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """Make the next ``count`` requests (to ``path``, or any API path) fail, stall or drop.

        With a ``status`` the request gets that error envelope (a 429 with ``retry_after`` carries a
        Retry-After header) and no task is created; without one it is answered normally after
        ``delay_s``; with ``drop`` the connection is closed with no answer.
        """
        fault = Fault(
            status=status,
            path=path,
            remaining=count,
            retry_after=retry_after,
            delay_s=delay_s,
            drop=drop,
            code=code,
            message=message,
        )
        return self._engine.faults.arm(fault)

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward: tasks come due, and media links signed before may expire."""
        self._clock_offset += seconds

    @property
    def frame_fetches(self) -> list[FrameFetch]:
        """Every start or end frame fetched for a video submit (with ``fetch_images``), oldest first."""
        return self._engine.frames.fetches

    def clear_faults(self) -> None:
        self._engine.faults.clear()

    def finish(
        self,
        task_id: str,
        *,
        success: bool = True,
        error_code: str = "api_error",
        error_message: str = "The job failed to render, please retry",
    ) -> None:
        """End a running task now (its waiters and callback hear at once); no-op if it already ended.

        Raises ``KeyError`` for an id the emulator never issued.
        """
        self._engine.finish(task_id, success=success, error=(error_code, error_message))

    def task(self, task_id: str) -> TaskView | None:
        """A read-only snapshot of a task, brought up to date with the clock."""
        task = self._engine.get(task_id)
        return None if task is None else task.view(self._engine.clock())

    async def wait_callbacks(self) -> None:
        """Wait until every queued callback was delivered or given up on."""
        await self._engine.callbacks.wait_idle()

    def state(self) -> dict[str, Any]:
        engine = self._engine
        now = engine.clock()
        running = sum(1 for task in engine.store if task.finished_at is None and now < task.due_at)
        return {
            "url": self._url,
            "task_count": len(engine.store),
            "running": running,
            "request_count": len(engine.requests),
            "faults_armed": len(engine.faults.armed),
            "scheduled": len(engine.scheduler),
            "state_path": None if engine.state is None else str(engine.state.path),
            "state_saves": None if engine.state is None else engine.state.saves,
        }

    def _media_base(self, request: web.Request) -> str:
        base = self.settings.public_url or self._url or str(request.url.origin())
        return base.rstrip("/")


async def serve_forever(
    settings: EmulatorSettings, host: str = "127.0.0.1", port: int = 8787, *, ready: Callable[[], None] | None = None
) -> None:
    """Run an emulator until cancelled (the ``mjbot emulator`` command); ``ready`` is called once it listens."""
    emulator = Emulator(settings)
    url = await emulator.start(host, port)
    if ready is not None:
        ready()
    tokens = "any token" if settings.tokens is None else f"{len(settings.tokens)} accepted token(s)"
    log.info("emulator: Midjourney API emulator ready at %s (%s)", url, tokens)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
