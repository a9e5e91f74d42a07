"""HTTP handlers of the emulated ``/midjourney/*`` endpoints."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from .engine import CLOSING, Engine
from .faults import Fault
from .settings import RecordedRequest
from .tasks import Task
from .validation import ApiProblem, bad_request, check_batch, check_imagine, check_videos

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
_NOT_JSON = object()


def error_response(
    status: int, code: str, message: str, trace_id: str, *, legacy: bool, retry_after: float | None = None
) -> web.Response:
    """The API's error envelope (with a top-level ``success: false`` unless answering the legacy way)."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}, "trace_id": trace_id}
    if not legacy:
        body = {"success": False, **body}
    headers = {"x-trace-id": trace_id}
    if retry_after is not None:
        headers["Retry-After"] = _header_seconds(retry_after)
    return web.json_response(body, status=status, headers=headers)


def _header_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.3f}".rstrip("0")


class ApiHandlers:
    """``POST /midjourney/{endpoint}``: faults, auth, body checks, then the endpoint itself."""

    def __init__(self, engine: Engine, media_base: Callable[[web.Request], str]) -> None:
        self._engine = engine
        self._media_base = media_base

    async def handle(self, request: web.Request) -> web.StreamResponse:
        engine = self._engine
        body = await _read_json(request)
        engine.requests.append(
            RecordedRequest(request.method, request.path, None if body is _NOT_JSON else body, time.monotonic())
        )
        trace_id = str(uuid.uuid4())
        legacy = engine.settings.legacy_fields
        fault = engine.faults.take(request.path)
        if fault is not None:
            faulted = await self._apply_fault(request, fault, trace_id, legacy=legacy)
            if faulted is not None:
                return faulted
        try:
            self._authorize(request)
            if not isinstance(body, dict):
                if body is _NOT_JSON:
                    raise bad_request("The request body is not valid JSON.")
                raise bad_request("The request body must be a JSON object.")
            response = await self._dispatch(request, body, trace_id)
            if engine.settings.save_before_answer and engine.state is not None:
                await engine.state.flush()  # another process serves the links: they must be in the file first
            return response
        except ApiProblem as problem:
            log.debug("emulator: %s answered %d %s", request.path, problem.status, problem.code)
            return error_response(problem.status, problem.code, problem.message, trace_id, legacy=legacy)

    async def _apply_fault(
        self, request: web.Request, fault: Fault, trace_id: str, *, legacy: bool
    ) -> web.Response | None:
        """The fault's answer, or ``None`` to answer normally (after its delay)."""
        log.info("emulator: fault on %s (status %s, drop %s)", request.path, fault.status, fault.drop)
        if fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client: the connection is gone
        if fault.status is None:
            return None
        retry_after = fault.retry_after if fault.status in (429, 503) else None
        return error_response(
            fault.status, fault.error_code, fault.error_message, trace_id, legacy=legacy, retry_after=retry_after
        )

    def _authorize(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        accepted = self._engine.settings.tokens
        valid = scheme.lower() == "bearer" and bool(token)
        if valid and accepted is not None:
            valid = any(hmac.compare_digest(token.encode(), known.encode()) for known in accepted)
        if not valid:
            log.info("emulator: refused a request to %s: missing or unknown token", request.path)
            raise ApiProblem(401, "invalid_token", "The specified token is invalid or wrong.")

    async def _dispatch(self, request: web.Request, body: dict[str, Any], trace_id: str) -> web.StreamResponse:
        endpoint = request.match_info.get("endpoint", "")
        if endpoint == "tasks":
            return self._tasks(body, trace_id)
        if endpoint not in ("imagine", "videos"):
            if endpoint in ("seed", "edits", "describe", "shorten", "translate"):
                raise ApiProblem(400, "api_not_implemented", "The API is not implemented.")
            raise ApiProblem(404, "not_found", f"There is no endpoint /midjourney/{endpoint}.")
        engine = self._engine
        settings = engine.settings
        ndjson = NDJSON in request.headers.get("accept", "").lower()
        if endpoint == "imagine":
            submission = check_imagine(
                body, ndjson=ndjson, moderation_words=settings.moderation_words, find_image=engine.find_image
            )
        else:
            submission = check_videos(
                body, ndjson=ndjson, moderation_words=settings.moderation_words, find_video=engine.find_video
            )
        failure = await engine.frames.problem(body) if endpoint == "videos" else None
        task = engine.create(submission, body, trace_id, self._media_base(request), failure=failure)
        if task.delivery in ("async", "callback"):
            return web.json_response({"task_id": task.id, "trace_id": trace_id}, headers={"x-trace-id": trace_id})
        if task.delivery == "hold":
            return await self._hold(task, submission.timeout)
        return await self._stream(request, task, submission.timeout)

    async def _hold(self, task: Task, limit_s: float) -> web.Response:
        """Keep the request open until the task ends (or ``timeout`` passes: 504)."""
        engine = self._engine
        queue = engine.subscribe(task)
        try:
            async with asyncio.timeout(limit_s):
                while (response := engine.observe(task).response) is None:
                    if await queue.get() is CLOSING:
                        raise ApiProblem(503, "service_unavailable", "The API is shutting down, please retry.")
        except TimeoutError:
            log.info("emulator: task %s not done within the request's timeout of %.1fs", task.id, limit_s)
            raise ApiProblem(504, "timeout", "Timeout to generate the image.") from None
        finally:
            engine.unsubscribe(task, queue)
        shown = engine.shown(task, {**response, "trace_id": task.trace_id})
        return web.json_response(shown, headers={"x-trace-id": task.trace_id})

    async def _stream(self, request: web.Request, task: Task, limit_s: float) -> web.StreamResponse:
        """Answer with one JSON line per progress snapshot, then the final result."""
        engine = self._engine
        queue = engine.subscribe(task)
        response = web.StreamResponse(headers={"content-type": NDJSON, "x-trace-id": task.trace_id})
        try:
            await response.prepare(request)
            try:
                async with asyncio.timeout(limit_s):
                    while True:
                        line = await queue.get()
                        if line is CLOSING:
                            break
                        last = task.response is not None and queue.empty()
                        await response.write(self._line(line, task))
                        if last:
                            break
            except TimeoutError:
                error = {"code": "timeout", "message": "Timeout to generate the image."}
                await response.write(self._line({"success": False, "task_id": task.id, "error": error}, task))
            await response.write_eof()
        except ConnectionError:
            log.info("emulator: the stream of task %s was closed by the client", task.id)
        finally:
            engine.unsubscribe(task, queue)
        return response

    def _line(self, line: Mapping[str, Any], task: Task) -> bytes:
        shown = self._engine.shown(task, {**line, "trace_id": task.trace_id})
        return json.dumps(shown).encode() + b"\n"

    def _tasks(self, body: Mapping[str, Any], trace_id: str) -> web.Response:
        engine = self._engine
        headers = {"x-trace-id": trace_id}
        action = body.get("action", "retrieve")
        if action == "retrieve":
            task_id, by_trace = body.get("id"), body.get("trace_id")
            if task_id and isinstance(task_id, str):
                task = engine.get(task_id)
            elif by_trace and isinstance(by_trace, str):
                task = engine.by_trace(by_trace)
            else:
                raise bad_request("id is required")
            return web.json_response({} if task is None else engine.record(task), headers=headers)
        if action == "retrieve_batch":
            tasks, count = engine.batch(check_batch(body))
            items = [engine.record(task) for task in tasks]
            return web.json_response({"items": items, "count": count}, headers=headers)
        raise bad_request(f"unknown action '{action}'")


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return _NOT_JSON
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON
