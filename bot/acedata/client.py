"""The Ace Data Cloud Midjourney API client.

One rule shapes the retries here: a submit costs money, so it is repeated only when the API
cannot have created a task (a 429 refusal, or a connection that was never made). Polls of
``/midjourney/tasks`` are free and idempotent, so they retry every transient failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from .answers import batch_page, decode_object, result_of, text_of
from .errors import (
    AceDataError,
    ConnectionFailedError,
    RateLimitError,
    RequestTimeoutError,
    UnexpectedResponseError,
)
from .models import ApiRequest, Endpoint, JsonObject, TaskRecord, TaskResult
from .retry import RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

_JSON = "application/json"
_NDJSON = "application/x-ndjson"
#: Extra client-side time on top of the server's own hold time, so the server's 504 arrives first.
_RUN_MARGIN_S = 15.0
#: An ndjson line longer than this is not a task snapshot.
_MAX_LINE_BYTES = 1 << 20
#: Bound on the pages one reconciliation search may fetch.
_MAX_SEARCH_PAGES = 20
#: A callback's task_id longer than this is not one (the API's are 36-character UUIDs).

_T = TypeVar("_T")

#: Told of each HTTP call to the API: its path family (``videos``, ``imagine``, ``tasks``), the HTTP status
#: (``None`` when no answer came: no connection, a time-out, a connection broken mid-answer) and its seconds.
RequestObserver = Callable[[str, int | None, float], None]
_FAMILY = {endpoint: endpoint.value.rsplit("/", 1)[-1] for endpoint in Endpoint}


@dataclass(frozen=True)
class SubmitReceipt:
    """What the API answers at once to an asynchronous submit."""

    task_id: str
    trace_id: str | None


class AceDataClient:
    """Typed access to the Midjourney endpoints over a caller-owned :class:`aiohttp.ClientSession`.

    The session is neither created nor closed here, so one session can serve the whole process.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token: str,
        base_url: str = "https://api.acedata.cloud",
        request_timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        observe: RequestObserver | None = None,
    ) -> None:
        """``observe`` is told of every HTTP call (each attempt of a retried one): the metrics' ``api_request``."""
        if request_timeout_s <= 0:
            raise ValueError("request_timeout_s must be positive")
        self._session = session
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._request_timeout_s = request_timeout_s
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._random = random
        self._observe = observe

    def __repr__(self) -> str:
        return f"AceDataClient(base_url={self._base_url!r})"

    # -- generation -------------------------------------------------------------------------

    async def submit(self, request: ApiRequest, *, callback_url: str | None = None) -> SubmitReceipt:
        """Start a task and return its id at once (``async: true``, or a webhook when ``callback_url`` is set)."""
        body = request.to_body()
        if callback_url:
            body["callback_url"] = callback_url
        else:
            body["async"] = True
        what = f"{request.endpoint.value} {request.action} submit"
        status, payload = await self._with_retries(
            what, lambda: self._post(request.endpoint, body, self._timeout(), what), submit=True
        )
        task_id = text_of(payload.get("task_id"))
        trace_id = text_of(payload.get("trace_id"))
        if not task_id:
            raise UnexpectedResponseError(
                "the API accepted the request but sent no task_id", status=status, trace_id=trace_id
            )
        log.debug("%s accepted as task %s (trace %s)", what, task_id, trace_id)
        return SubmitReceipt(task_id=task_id, trace_id=trace_id)

    async def run(self, request: ApiRequest, *, timeout_s: float = 480.0) -> TaskResult:
        """Submit and hold the connection until the task ends; never retried (a retry would pay twice)."""
        body = self._hold_body(request, timeout_s)
        timeout = aiohttp.ClientTimeout(total=timeout_s + _RUN_MARGIN_S, sock_connect=self._request_timeout_s)
        what = f"{request.endpoint.value} {request.action} run"
        status, payload = await self._post(request.endpoint, body, timeout, what)
        return result_of(status, payload)

    async def stream(
        self, request: ApiRequest, *, timeout_s: float = 480.0, idle_timeout_s: float = 120.0
    ) -> AsyncIterator[TaskResult]:
        """Submit and yield one snapshot per progress update (ndjson); never retried.

        Close the iterator (``contextlib.aclosing``) when stopping early, to free the connection.
        """
        body = self._hold_body(request, timeout_s)
        timeout = aiohttp.ClientTimeout(
            total=timeout_s + _RUN_MARGIN_S, sock_connect=self._request_timeout_s, sock_read=idle_timeout_s
        )
        what = f"{request.endpoint.value} {request.action} stream"
        with self._observed(request.endpoint) as answer, self._transport_errors(what):
            async with self._session.post(
                self._url(request.endpoint),
                data=json.dumps(body),
                headers=self._headers(_NDJSON),
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                status = answer.status = response.status
                content_type = response.headers.get(aiohttp.hdrs.CONTENT_TYPE, "")
                if not 200 <= status < 300 or "ndjson" not in content_type:
                    # An error, or a server that answered with one plain JSON document.
                    raw = await response.read()
                    retry_after = parse_retry_after(response.headers.get(aiohttp.hdrs.RETRY_AFTER))
                    yield result_of(status, decode_object(status, raw, content_type, retry_after))
                    return
                buffer = bytearray()
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    while (end := buffer.find(b"\n")) >= 0:
                        line = bytes(buffer[:end])
                        del buffer[: end + 1]
                        if line.strip():
                            yield result_of(status, decode_object(status, line, content_type, None))
                    if len(buffer) > _MAX_LINE_BYTES:
                        raise UnexpectedResponseError("the API streamed an overlong line", status=status)
                if buffer.strip():
                    yield result_of(status, decode_object(status, bytes(buffer), content_type, None))

    # -- task lookup --------------------------------------------------------------------------

    async def retrieve(self, task_id: str) -> TaskRecord | None:
        """One task's record, or ``None`` when the API does not know the id."""
        body: JsonObject = {"action": "retrieve", "id": task_id}
        status, payload = await self._poll(f"retrieve of task {task_id}", body)
        record = TaskRecord.parse(payload)
        if record is not None and record.task_id != task_id:
            raise UnexpectedResponseError(
                f"asked for task {task_id} but the API answered with task {record.task_id}", status=status
            )
        return record

    async def retrieve_batch(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        """Records of many tasks in one request, keyed by task id; ids the API does not know are absent."""
        wanted = list(dict.fromkeys(task_ids))
        if not wanted:
            return {}
        # The API's default limit (12) may cap an ids query, so ask for exactly as many as we name.
        body: JsonObject = {"action": "retrieve_batch", "ids": wanted, "offset": 0, "limit": len(wanted)}
        status, payload = await self._poll(f"batch retrieve of {len(wanted)} tasks", body)
        records, _, _ = batch_page(status, payload)
        known = set(wanted)
        return {record.task_id: record for record in records if record.task_id in known}

    async def search_tasks(
        self, *, created_after: float, created_before: float, page_size: int = 50
    ) -> list[TaskRecord]:
        """Every task created within a time window (Unix seconds), to find a task whose submit answer was lost."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        found: dict[str, TaskRecord] = {}
        offset = 0
        for _ in range(_MAX_SEARCH_PAGES):
            body: JsonObject = {
                "action": "retrieve_batch",
                "created_at_min": created_after,
                "created_at_max": created_before,
                "offset": offset,
                "limit": page_size,
            }
            status, payload = await self._poll(f"task search at offset {offset}", body)
            records, page_length, count = batch_page(status, payload)
            for record in records:
                found.setdefault(record.task_id, record)
            offset += page_length
            if page_length == 0 or (count is not None and offset >= count):
                break
            if count is None and page_length < page_size:
                break
        else:
            log.warning("task search stopped after %d pages with %d tasks found", _MAX_SEARCH_PAGES, len(found))
        return list(found.values())

    # -- plumbing -------------------------------------------------------------------------------

    def _url(self, endpoint: Endpoint) -> str:
        return f"{self._base_url}{endpoint.value}"

    def _headers(self, accept: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self._token}", "content-type": _JSON, "accept": accept}

    def _timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self._request_timeout_s)

    def _hold_body(self, request: ApiRequest, timeout_s: float) -> JsonObject:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        body = request.to_body()
        # Only imagine documents a server-side hold time; videos are bounded by our own timeout.
        if request.endpoint is Endpoint.IMAGINE:
            body["timeout"] = timeout_s
        return body

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    async def _poll(self, what: str, body: JsonObject) -> tuple[int, JsonObject]:
        return await self._with_retries(
            what, lambda: self._post(Endpoint.TASKS, body, self._timeout(), what), submit=False
        )

    async def _post(
        self, endpoint: Endpoint, body: JsonObject, limits: aiohttp.ClientTimeout, what: str
    ) -> tuple[int, JsonObject]:
        with self._observed(endpoint) as answer, self._transport_errors(what):
            async with self._session.post(
                self._url(endpoint),
                data=json.dumps(body),
                headers=self._headers(_JSON),
                timeout=limits,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = answer.status = response.status
                content_type = response.headers.get(aiohttp.hdrs.CONTENT_TYPE, "")
                retry_after = parse_retry_after(response.headers.get(aiohttp.hdrs.RETRY_AFTER))
        return status, decode_object(status, raw, content_type, retry_after)

    @contextlib.contextmanager
    def _observed(self, endpoint: Endpoint) -> Iterator[_Answer]:
        """Tell the observer of the HTTP call in the block: its status once the answer was read, and its time.

        A call cut short by a cancellation (a stop) is not told: it says nothing about the API.
        """
        answer = _Answer()
        observe = self._observe
        if observe is None:
            yield answer
            return
        began = time.perf_counter()
        try:
            yield answer
        except asyncio.CancelledError:
            raise
        except BaseException:  # an error, or a stream closed early (GeneratorExit)
            observe(_FAMILY[endpoint], answer.status, time.perf_counter() - began)
            raise
        observe(_FAMILY[endpoint], answer.status, time.perf_counter() - began)

    @contextlib.contextmanager
    def _transport_errors(self, what: str) -> Iterator[None]:
        """Turn aiohttp's failures into our errors, noting whether the request may have reached the API."""
        try:
            yield
        except aiohttp.ConnectionTimeoutError as exc:
            # Timed out before a connection existed: nothing was sent.
            raise ConnectionFailedError(f"timed out connecting to the API for {what}", sent=False) from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectionFailedError(
                f"could not connect to the API for {what}: {self._redact(str(exc))}", sent=False
            ) from exc
        except TimeoutError as exc:
            raise RequestTimeoutError(f"the API did not answer {what} in time") from exc
        except aiohttp.ClientError as exc:
            detail = self._redact(str(exc)) or type(exc).__name__
            raise ConnectionFailedError(f"the connection broke during {what}: {detail}", sent=True) from exc

    async def _with_retries(self, what: str, call: Callable[[], Awaitable[_T]], *, submit: bool) -> _T:
        attempt = 1
        while True:
            try:
                return await call()
            except AceDataError as exc:
                may_retry = _submit_may_retry(exc) if submit else exc.retryable
                if not may_retry or attempt >= self._retry.attempts:
                    raise
                delay = self._retry.delay(attempt, exc.retry_after, random=self._random)
                log.warning(
                    "%s failed with %s (attempt %d of %d, trace %s); retrying in %.2f s",
                    what,
                    exc.code,
                    attempt,
                    self._retry.attempts,
                    exc.trace_id,
                    delay,
                )
            await self._sleep(delay)
            attempt += 1


class _Answer:
    """The status of an HTTP call, once its answer was read (``None`` until then)."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status: int | None = None


def _submit_may_retry(exc: AceDataError) -> bool:
    """A submit is repeated only when the API certainly created no task."""
    if isinstance(exc, RateLimitError):
        return True
    return isinstance(exc, ConnectionFailedError) and not exc.sent
