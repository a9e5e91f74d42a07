"""The HTTP listener: Ace Data Cloud's result callbacks, and a health check for the host.

The API signs nothing it POSTs, so the callback URL itself carries the secret; the secret is
compared in constant time, never logged (the access log shows a redacted path), and a wrong one
gets the same 404 as an unknown path. Even with the right secret a body is not believed: only its
task id is read, and the engine asks the API what became of that task. A body that cannot be used
(not UTF-8, not JSON, nested too deeply, no task id) gets 400 with the reason, never a 500.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from bot import __version__
from bot.acedata.answers import parse_callback
from bot.acedata.errors import UnexpectedResponseError
from bot.jobs import JobEngine
from bot.metrics import Metrics

log = logging.getLogger(__name__)

#: The largest callback body accepted; a real result is a few kilobytes.
MAX_BODY_BYTES = 1 << 20
CALLBACK_ROUTE = "/acedata/callback"

HealthProbe = Callable[[], Awaitable[Mapping[str, Any]]]


def callback_path_prefix(public_url: str | None) -> str:
    """The path part of the public URL (``https://host/mjbot/`` -> ``/mjbot``), under which callbacks arrive."""
    return urlsplit(public_url).path.rstrip("/") if public_url else ""


def callback_url_for(public_url: str, secret: str) -> str:
    """The URL to give the API as ``callback_url``: the public URL, the callback route and the secret."""
    return f"{public_url.rstrip('/')}{CALLBACK_ROUTE}/{quote(secret, safe='')}"


def redact(path: str) -> str:
    """A request path fit for a log: the secret segment of a callback path is masked."""
    head, found, _ = path.partition(CALLBACK_ROUTE + "/")
    return f"{head}{CALLBACK_ROUTE}/***" if found else path


def decode_body(raw: bytes) -> Any:
    """The JSON document in a callback body; UnexpectedResponseError saying what is wrong with it otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnexpectedResponseError("the callback body is not UTF-8 text; send JSON encoded as UTF-8") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise UnexpectedResponseError("the callback body is nested too deeply to be a task result") from None
    except ValueError as error:
        raise UnexpectedResponseError(f"the callback body is not JSON ({error})") from None


class _RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s -> %d in %.1f ms",
            request.remote,
            request.method,
            redact(request.path),
            response.status,
            time * 1000,
        )


class WebServer:
    """Serves ``POST {prefix}/acedata/callback/{secret}``, ``GET /healthz`` and, with metrics on, ``GET /metrics``."""

    def __init__(
        self,
        engine: JobEngine,
        *,
        host: str,
        port: int,
        callback_secret: str | None,
        callback_path_prefix: str = "",
        health: HealthProbe | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._engine = engine
        self._metrics = metrics if metrics is not None and metrics.enabled else None
        #: The base URL once listening (with the real port when ``port`` was 0).
        self.url: str | None = None
        self._host = host
        self._port = port
        self._secret = callback_secret.encode() if callback_secret else None
        self._health = health
        self._runner: web.AppRunner | None = None
        prefix = callback_path_prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        self._app = web.Application(client_max_size=MAX_BODY_BYTES)
        self._app.router.add_post(f"{prefix}{CALLBACK_ROUTE}/{{secret}}", self._callback)
        if prefix:  # a proxy may strip the prefix or pass it on: accept both
            self._app.router.add_post(f"{CALLBACK_ROUTE}/{{secret}}", self._callback)
        self._app.router.add_get("/healthz", self._healthz)
        if self._metrics is not None:  # off: /metrics is an unknown path (404)
            self._app.router.add_get("/metrics", self._serve_metrics)

    async def start(self) -> str:
        """Start listening; returns the base URL (with the real port when ``port`` was 0)."""
        if self._runner is not None:
            raise RuntimeError("the web server is already running")
        runner = web.AppRunner(self._app, access_log_class=_RedactingAccessLogger, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        log.info(
            "listening on %s (callbacks %s, metrics %s)",
            url,
            "on" if self._secret else "off",
            "on" if self._metrics else "off",
        )
        self.url = url
        return url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _callback(self, request: web.Request) -> web.Response:
        given = request.match_info.get("secret", "").encode()
        if self._secret is None or not hmac.compare_digest(given, self._secret):
            log.warning("callback refused: wrong secret or callbacks disabled (%s)", redact(request.path))
            raise web.HTTPNotFound()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("callback refused: body larger than %d bytes", MAX_BODY_BYTES)
            raise
        try:
            result = parse_callback(decode_body(raw))
        except UnexpectedResponseError as error:
            log.warning("callback refused: %s", error.message)
            return web.json_response({"ok": False, "error": error.message}, status=400)
        # Only a hint: the engine asks the API about the task and trusts nothing else of the body.
        matched = await self._engine.handle_callback(result)
        return web.json_response({"ok": matched})

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        """The process's metrics in Prometheus's text format."""
        metrics = self._metrics
        if metrics is None:  # the route exists only with metrics on
            raise web.HTTPNotFound()
        return web.Response(body=await metrics.render(), headers={"Content-Type": metrics.content_type})

    async def _healthz(self, request: web.Request) -> web.Response:
        """200 while every part works, else 503; ``unhealthy`` names the parts that don't and ``reason`` says why.

        The probe given to the server adds its own figures, and its parts' problems under ``problems``
        (``{"discord": None}`` while the gateway is fine). An API that keeps failing, or keeps a poll waiting, is
        reported as ``api_problem`` but leaves the bot healthy: restarting it would not mend the provider.
        """
        health = self._engine.health()
        body: dict[str, Any] = {
            "tracked_jobs": health.tracked_jobs,
            "unconfirmed_jobs": health.unconfirmed_jobs,
            "last_poll_at": health.last_poll_at,
            "last_poll_ok": health.last_poll_ok,
            "poll_interval_s": health.poll_interval_s,
            "api_problem": health.api_problem,
            "version": __version__,
            "time": time.time(),
        }
        problems: dict[str, str | None] = {"engine": health.problem}
        if self._health is not None:
            try:
                extra = dict(await self._health())
            except Exception as error:
                log.exception("health probe failed")
                extra = {"problems": {"probe": f"health probe failed: {error!r}"}}
            problems.update(extra.pop("problems", None) or {})
            body.update(extra)
        failing = {part: why for part, why in problems.items() if why}
        body["status"] = "unavailable" if failing else "ok"
        body["unhealthy"] = sorted(failing)
        if failing:
            body["reason"] = "; ".join(f"{part}: {why}" for part, why in failing.items())
        return web.json_response(body, status=503 if failing else 200)
