"""The API client against the loopback emulator (and, for malformed answers, a scripted server)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.acedata import (
    GRID_ACTIONS,
    UPSCALED_ACTIONS,
    AceDataClient,
    BadRequestError,
    ConnectionFailedError,
    ForbiddenError,
    GenerationTimeoutError,
    ImagineAction,
    ImagineGenerate,
    InsufficientCreditError,
    InvalidTokenError,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TaskRecord,
    TaskStatus,
    UnexpectedResponseError,
    VideoExtend,
    VideoGenerate,
    parse_callback,
)
from bot.acedata.emulator import Emulator

IMAGE = "https://example.com/frame.png"


class SleepLog:
    """An injected sleep that records the delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


@pytest.fixture
def make_client(session: aiohttp.ClientSession, sleeps: SleepLog, emulator_token: str) -> Callable[..., AceDataClient]:
    def build(base_url: str, **overrides: Any) -> AceDataClient:
        options: dict[str, Any] = {"token": emulator_token, "sleep": sleeps, "random": lambda: 1.0}
        options.update(overrides)
        return AceDataClient(session, base_url=base_url, **options)

    return build


@pytest.fixture
def client(emulator: Emulator, make_client: Callable[..., AceDataClient]) -> AceDataClient:
    return make_client(emulator.url)


def bodies(emulator: Emulator, path: str) -> list[dict[str, Any]]:
    return [request.body for request in emulator.requests if request.path == path]


async def until_done(client: AceDataClient, task_id: str) -> TaskRecord:
    for _ in range(200):
        record = await client.retrieve(task_id)
        if record is not None and record.status is not TaskStatus.RUNNING:
            return record
        await asyncio.sleep(0.02)
    raise AssertionError(f"task {task_id} never finished")


# -- generation --------------------------------------------------------------------------------


async def test_video_submit_answers_at_once_and_finishes_with_four_clips(
    client: AceDataClient, emulator: Emulator
) -> None:
    receipt = await client.submit(VideoGenerate(prompt="waves at dusk", image_url=IMAGE, loop=True))

    assert receipt.task_id
    [body] = bodies(emulator, "/midjourney/videos")
    assert body["async"] is True
    assert "callback_url" not in body
    assert (body["action"], body["image_url"], body["loop"]) == ("generate", IMAGE, True)
    record = await until_done(client, receipt.task_id)
    assert record.status is TaskStatus.SUCCEEDED
    assert record.type == "videos"
    assert record.result is not None
    assert record.result.video_id
    assert len(record.result.video_urls) == 4
    assert record.finished_at is not None


async def test_video_extend_continues_the_chosen_clip(client: AceDataClient, emulator: Emulator) -> None:
    first = await client.run(VideoGenerate(prompt="a kite", image_url=IMAGE))
    assert first.status is TaskStatus.SUCCEEDED
    assert first.video_id

    receipt = await client.submit(VideoExtend(video_id=first.video_id, video_index=2, prompt="higher"))

    extend_body = bodies(emulator, "/midjourney/videos")[-1]
    assert (extend_body["action"], extend_body["video_id"], extend_body["video_index"]) == ("extend", first.video_id, 2)
    record = await until_done(client, receipt.task_id)
    assert record.result is not None
    assert record.result.video_id not in (None, first.video_id)
    assert len(record.result.video_urls) == 4


async def test_imagine_grid_then_upscale_by_image_id(client: AceDataClient) -> None:
    grid = await until_done(client, (await client.submit(ImagineGenerate(prompt="a red fox"))).task_id)
    assert grid.result is not None
    assert grid.result.image_id
    assert grid.result.actions == GRID_ACTIONS

    upscale = await client.submit(ImagineAction(action_name="upscale1", image_id=grid.result.image_id))
    single = await until_done(client, upscale.task_id)

    assert single.result is not None
    assert single.result.image_id not in (None, grid.result.image_id)
    assert set(single.result.actions) == set(UPSCALED_ACTIONS)
    assert single.result.image_url


async def test_callback_submit_posts_the_result_to_the_webhook(client: AceDataClient, emulator: Emulator) -> None:
    received: asyncio.Queue[Any] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await received.put(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        receipt = await client.submit(
            ImagineGenerate(prompt="a lighthouse"), callback_url=f"http://127.0.0.1:{port}/hook"
        )
        [body] = bodies(emulator, "/midjourney/imagine")
        assert body["callback_url"].endswith("/hook")
        assert "async" not in body
        result = parse_callback(await asyncio.wait_for(received.get(), 5))
    finally:
        await runner.cleanup()
    assert result.task_id == receipt.task_id
    assert result.status is TaskStatus.SUCCEEDED
    assert result.image_url


async def test_run_holds_until_the_result_is_final(client: AceDataClient, emulator: Emulator) -> None:
    result = await client.run(ImagineGenerate(prompt="a quiet harbour"), timeout_s=30)

    assert result.status is TaskStatus.SUCCEEDED
    assert result.progress == 100
    assert result.image_url
    assert isinstance(result.image_width, int)
    assert result.actions == GRID_ACTIONS
    [body] = bodies(emulator, "/midjourney/imagine")
    assert "async" not in body
    assert body["timeout"] == 30


async def test_run_reports_the_servers_own_timeout(client: AceDataClient, emulator: Emulator) -> None:
    emulator.settings.job_duration_s = 5.0
    with pytest.raises(GenerationTimeoutError) as caught:
        await client.run(ImagineGenerate(prompt="a slow one"), timeout_s=0.1)
    assert caught.value.status == 504
    assert len(bodies(emulator, "/midjourney/imagine")) == 1


async def test_stream_yields_growing_progress_then_the_final_result(client: AceDataClient) -> None:
    snapshots = [snapshot async for snapshot in client.stream(ImagineGenerate(prompt="a city at night"))]

    assert len(snapshots) >= 2
    progress = [snapshot.progress or 0 for snapshot in snapshots]
    assert progress == sorted(progress)
    assert len({snapshot.task_id for snapshot in snapshots}) == 1
    assert all(snapshot.actions == () for snapshot in snapshots[:-1])
    final = snapshots[-1]
    assert final.status is TaskStatus.SUCCEEDED
    assert final.progress == 100
    assert final.actions == GRID_ACTIONS


async def test_stream_of_a_video_ends_with_the_clips(client: AceDataClient) -> None:
    snapshots = [snapshot async for snapshot in client.stream(VideoGenerate(prompt="rain", image_url=IMAGE))]

    assert snapshots[-1].status is TaskStatus.SUCCEEDED
    assert len(snapshots[-1].video_urls) == 4


async def test_stream_refusal_raises_before_any_snapshot(
    emulator: Emulator, make_client: Callable[..., AceDataClient]
) -> None:
    client = make_client(emulator.url, token="not-the-token")
    with pytest.raises(InvalidTokenError):
        async for _ in client.stream(ImagineGenerate(prompt="x")):
            raise AssertionError("no snapshot expected")


async def test_a_failure_after_acceptance_is_a_result_not_an_error(client: AceDataClient, emulator: Emulator) -> None:
    emulator.settings.failure_rate = 1.0
    result = await client.run(ImagineGenerate(prompt="doomed"))
    assert result.status is TaskStatus.FAILED
    assert result.error_code
    assert result.task_id


async def test_stream_reports_a_failed_task_on_its_last_line(client: AceDataClient, emulator: Emulator) -> None:
    emulator.settings.job_duration_s = 5.0
    snapshots = []
    async for snapshot in client.stream(VideoGenerate(prompt="x", image_url=IMAGE)):
        snapshots.append(snapshot)
        if len(snapshots) == 1:
            assert snapshot.task_id is not None
            emulator.finish(snapshot.task_id, success=False, error_code="render_failed", error_message="no luck")
    assert snapshots[-1].status is TaskStatus.FAILED
    assert (snapshots[-1].error_code, snapshots[-1].error_message) == ("render_failed", "no luck")


async def test_legacy_answers_parse_the_same(client: AceDataClient, emulator: Emulator) -> None:
    emulator.settings.legacy_fields = True
    result = await client.run(ImagineGenerate(prompt="old docs"))
    assert result.task_id is not None
    assert isinstance(result.image_width, int)
    assert isinstance(result.raw_image_height, int)
    record = await client.retrieve(result.task_id)
    assert record is not None
    assert record.elapsed is not None
    assert record.status is TaskStatus.SUCCEEDED
    with pytest.raises(ForbiddenError) as caught:
        await client.submit(ImagineGenerate(prompt="forbidden words"))
    assert caught.value.trace_id


# -- task lookup ---------------------------------------------------------------------------------


async def test_retrieve_unknown_task_is_none(client: AceDataClient) -> None:
    assert await client.retrieve("no-such-task") is None


async def test_retrieve_a_running_task(client: AceDataClient, emulator: Emulator) -> None:
    emulator.settings.job_duration_s = 5.0
    receipt = await client.submit(ImagineGenerate(prompt="a slow fox"))

    record = await client.retrieve(receipt.task_id)

    assert record is not None
    assert record.task_id == receipt.task_id
    assert record.status is TaskStatus.RUNNING
    assert record.finished_at is None
    assert record.request.get("prompt") == "a slow fox"


async def test_retrieve_batch_asks_for_every_id_in_one_request(client: AceDataClient, emulator: Emulator) -> None:
    ids = [(await client.submit(ImagineGenerate(prompt=f"tile {n}"))).task_id for n in range(15)]
    for task_id in ids:
        emulator.finish(task_id, success=True)

    records = await client.retrieve_batch([*ids, "unknown-id"])

    assert set(records) == set(ids)
    assert all(records[task_id].status is TaskStatus.SUCCEEDED for task_id in ids)
    [body] = bodies(emulator, "/midjourney/tasks")
    assert body["action"] == "retrieve_batch"
    assert (body["offset"], body["limit"]) == (0, 16)


async def test_retrieve_batch_of_nothing_sends_nothing(client: AceDataClient, emulator: Emulator) -> None:
    assert await client.retrieve_batch([]) == {}
    assert bodies(emulator, "/midjourney/tasks") == []


async def test_search_tasks_pages_through_a_time_window(client: AceDataClient, emulator: Emulator) -> None:
    for n in range(2):
        await client.submit(ImagineGenerate(prompt=f"before {n}"))
    await asyncio.sleep(0.02)
    start = time.time()
    wanted = {(await client.submit(ImagineGenerate(prompt=f"lost {n}"))).task_id for n in range(7)}

    found = await client.search_tasks(created_after=start, created_before=time.time() + 1, page_size=3)

    assert {record.task_id for record in found} == wanted
    searches = bodies(emulator, "/midjourney/tasks")
    assert [body["offset"] for body in searches] == [0, 3, 6]
    assert all("ids" not in body and body["limit"] == 3 for body in searches)
    assert all(body["created_at_min"] == start for body in searches)


# -- errors ----------------------------------------------------------------------------------------


async def test_bad_request(client: AceDataClient, emulator: Emulator) -> None:
    with pytest.raises(BadRequestError) as caught:
        await client.submit(ImagineAction(action_name="upscale1", image_id=""))
    assert (caught.value.status, caught.value.code) == (400, "bad_request")
    assert caught.value.trace_id
    assert emulator.task_count == 0


async def test_wrong_token(emulator: Emulator, make_client: Callable[..., AceDataClient], sleeps: SleepLog) -> None:
    client = make_client(emulator.url, token="wrong")
    with pytest.raises(InvalidTokenError) as caught:
        await client.retrieve("anything")
    assert (caught.value.status, caught.value.code) == (401, "invalid_token")
    assert sleeps.delays == []


async def test_moderation_refusal_says_why(client: AceDataClient, emulator: Emulator) -> None:
    with pytest.raises(ForbiddenError) as caught:
        await client.submit(ImagineGenerate(prompt="a forbidden garden"))
    assert not isinstance(caught.value, InsufficientCreditError)
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    assert "forbidden" in caught.value.message.lower()
    assert emulator.task_count == 0


async def test_credit_exhaustion(client: AceDataClient, emulator: Emulator) -> None:
    emulator.inject_fault(403, path="/midjourney/videos", message="Your credit balance is insufficient.")
    with pytest.raises(InsufficientCreditError) as caught:
        await client.submit(VideoGenerate(prompt="x", image_url=IMAGE))
    assert caught.value.status == 403
    assert "insufficient" in caught.value.message


@pytest.mark.parametrize(("status", "error"), [(500, ServerError), (504, GenerationTimeoutError)])
async def test_submit_is_not_repeated_after_a_server_error(
    client: AceDataClient, emulator: Emulator, sleeps: SleepLog, status: int, error: type[Exception]
) -> None:
    emulator.inject_fault(status, path="/midjourney/imagine")
    with pytest.raises(error) as caught:
        await client.submit(ImagineGenerate(prompt="once only"))
    assert getattr(caught.value, "status", None) == status
    assert len(bodies(emulator, "/midjourney/imagine")) == 1
    assert emulator.task_count == 0
    assert sleeps.delays == []


async def test_submit_is_not_repeated_after_a_drop(client: AceDataClient, emulator: Emulator, sleeps: SleepLog) -> None:
    emulator.inject_fault(path="/midjourney/videos", drop=True)
    with pytest.raises(ConnectionFailedError) as caught:
        await client.submit(VideoGenerate(prompt="x", image_url=IMAGE))
    assert caught.value.sent is True
    assert caught.value.status == 0
    assert len(bodies(emulator, "/midjourney/videos")) == 1
    assert emulator.task_count == 0
    assert sleeps.delays == []


async def test_submit_is_not_repeated_after_a_client_timeout(
    emulator: Emulator, make_client: Callable[..., AceDataClient], sleeps: SleepLog
) -> None:
    client = make_client(emulator.url, request_timeout_s=0.1)
    emulator.inject_fault(path="/midjourney/imagine", delay_s=0.4)
    with pytest.raises(RequestTimeoutError) as caught:
        await client.submit(ImagineGenerate(prompt="slow answer"))
    assert caught.value.code == "request_timeout"
    assert sleeps.delays == []
    # The API went on to create the task we gave up waiting for; it must be the only one.
    await asyncio.sleep(0.5)
    assert len(bodies(emulator, "/midjourney/imagine")) == 1
    assert emulator.task_count == 1


async def test_submit_is_repeated_after_429_and_creates_one_task(
    client: AceDataClient, emulator: Emulator, sleeps: SleepLog
) -> None:
    emulator.inject_fault(429, path="/midjourney/imagine", count=2, retry_after=1.5)

    receipt = await client.submit(ImagineGenerate(prompt="patience"))

    assert receipt.task_id
    assert len(bodies(emulator, "/midjourney/imagine")) == 3
    assert emulator.task_count == 1
    assert len(sleeps.delays) == 2
    assert all(delay >= 1.5 for delay in sleeps.delays)


async def test_connection_refused_is_retried_even_for_a_submit(
    make_client: Callable[..., AceDataClient], sleeps: SleepLog
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", retry=RetryPolicy(attempts=3))

    with pytest.raises(ConnectionFailedError) as caught:
        await client.submit(ImagineGenerate(prompt="nobody home"))

    assert caught.value.sent is False
    assert len(sleeps.delays) == 2


async def test_rate_limited_poll_gives_up_after_the_attempts(
    client: AceDataClient, emulator: Emulator, sleeps: SleepLog
) -> None:
    emulator.inject_fault(429, path="/midjourney/tasks", count=10, retry_after=1.5)
    with pytest.raises(RateLimitError) as caught:
        await client.retrieve("any")
    assert caught.value.retry_after == 1.5
    assert caught.value.status == 429
    assert len(bodies(emulator, "/midjourney/tasks")) == 4
    assert len(sleeps.delays) == 3
    assert all(delay >= 1.5 for delay in sleeps.delays)


async def test_poll_backoff_grows_exponentially(client: AceDataClient, emulator: Emulator, sleeps: SleepLog) -> None:
    receipt = await client.submit(ImagineGenerate(prompt="steady"))
    emulator.inject_fault(500, path="/midjourney/tasks", count=3)

    record = await client.retrieve(receipt.task_id)

    assert record is not None
    assert sleeps.delays == [0.5, 1.0, 2.0]


async def test_poll_backoff_is_jittered(
    emulator: Emulator, make_client: Callable[..., AceDataClient], sleeps: SleepLog
) -> None:
    client = make_client(emulator.url, random=lambda: 0.25)
    emulator.inject_fault(504, path="/midjourney/tasks", count=2)

    records = await client.retrieve_batch(["a", "b"])

    assert records == {}
    assert sleeps.delays == [0.125, 0.25]


async def test_poll_retries_a_drop_and_a_slow_answer(
    emulator: Emulator, make_client: Callable[..., AceDataClient], sleeps: SleepLog
) -> None:
    client = make_client(emulator.url, request_timeout_s=0.1)
    emulator.inject_fault(path="/midjourney/tasks", drop=True)
    emulator.inject_fault(path="/midjourney/tasks", delay_s=0.3)

    assert await client.retrieve("unknown") is None
    assert len(sleeps.delays) == 2


async def test_the_token_stays_secret(
    emulator: Emulator,
    make_client: Callable[..., AceDataClient],
    caplog: pytest.LogCaptureFixture,
    emulator_token: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(emulator.url)
    emulator.inject_fault(429, path="/midjourney/tasks", count=2, retry_after=1.0)
    emulator.inject_fault(500, path="/midjourney/imagine")

    assert await client.retrieve("unknown") is None
    with pytest.raises(ServerError) as caught:
        await client.submit(ImagineGenerate(prompt="x"))

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "too_many_requests" in warnings[0].getMessage()
    assert "attempt 1 of 4" in warnings[0].getMessage()
    for text in (caplog.text, repr(client), str(client), str(caught.value)):
        assert emulator_token not in text


# -- malformed answers, from a scripted server ------------------------------------------------------


@dataclass
class Scripted:
    """A loopback server that answers each request with the next scripted reply."""

    replies: list[web.Response] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    state = Scripted()

    async def answer(request: web.Request) -> web.StreamResponse:
        state.seen.append({"path": request.path, "headers": dict(request.headers), "body": await request.json()})
        return state.replies.pop(0)

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    yield state
    await runner.cleanup()


async def test_headers_and_trailing_slash(
    scripted: Scripted, make_client: Callable[..., AceDataClient], emulator_token: str
) -> None:
    scripted.replies.append(web.json_response({"task_id": "t-1", "trace_id": "tr-1"}))
    receipt = await make_client(scripted.url).submit(ImagineGenerate(prompt="x"))

    assert receipt.task_id == "t-1"
    assert receipt.trace_id == "tr-1"
    [seen] = scripted.seen
    assert seen["path"] == "/midjourney/imagine"
    assert seen["headers"]["Authorization"] == f"Bearer {emulator_token}"
    assert seen["headers"]["Accept"] == "application/json"
    assert seen["headers"]["Content-Type"] == "application/json"


async def test_html_answer_is_unexpected(scripted: Scripted, make_client: Callable[..., AceDataClient]) -> None:
    scripted.replies.append(web.Response(text="<html>hello</html>", content_type="text/html"))
    with pytest.raises(UnexpectedResponseError) as caught:
        await make_client(scripted.url).retrieve("t")
    assert caught.value.status == 200
    assert "text/html" in caught.value.message


async def test_json_that_is_not_an_object_is_unexpected(
    scripted: Scripted, make_client: Callable[..., AceDataClient]
) -> None:
    scripted.replies.append(web.json_response([1, 2]))
    with pytest.raises(UnexpectedResponseError):
        await make_client(scripted.url).retrieve_batch(["t"])


async def test_submit_answer_without_task_id_is_unexpected(
    scripted: Scripted, make_client: Callable[..., AceDataClient]
) -> None:
    scripted.replies.append(web.json_response({"trace_id": "tr-9"}))
    with pytest.raises(UnexpectedResponseError) as caught:
        await make_client(scripted.url).submit(ImagineGenerate(prompt="x"))
    assert caught.value.trace_id == "tr-9"


async def test_html_bad_gateway_is_a_retryable_server_error(
    scripted: Scripted, make_client: Callable[..., AceDataClient], sleeps: SleepLog
) -> None:
    scripted.replies.append(web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html"))
    scripted.replies.append(web.json_response({}))
    assert await make_client(scripted.url).retrieve("t") is None
    assert len(sleeps.delays) == 1


async def test_detail_body_and_missing_success(scripted: Scripted, make_client: Callable[..., AceDataClient]) -> None:
    client = make_client(scripted.url)
    scripted.replies.append(web.json_response({"detail": "Token expired."}, status=401))
    with pytest.raises(InvalidTokenError) as caught:
        await client.retrieve("t")
    assert caught.value.message == "Token expired."

    scripted.replies.append(
        web.json_response(
            {"error": {"code": "bad_request", "message": "prompt is required"}, "trace_id": "tr"}, status=400
        )
    )
    with pytest.raises(BadRequestError) as bad:
        await client.submit(ImagineGenerate(prompt=""))
    assert (bad.value.message, bad.value.trace_id) == ("prompt is required", "tr")


async def test_http_date_retry_after_is_honoured(
    scripted: Scripted, make_client: Callable[..., AceDataClient], sleeps: SleepLog
) -> None:
    later = time.time() + 30
    header = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(later))
    scripted.replies.append(
        web.json_response({"error": {"code": "too_many_requests"}}, status=429, headers={"Retry-After": header})
    )
    scripted.replies.append(web.json_response({}))
    assert await make_client(scripted.url).retrieve("t") is None
    [delay] = sleeps.delays
    assert 25 <= delay <= 31


async def test_lenient_sizes_and_durations(scripted: Scripted, make_client: Callable[..., AceDataClient]) -> None:
    record = {
        "id": "t",
        "type": "imagine",
        "trace_id": "tr",
        "request": {"prompt": "x"},
        "created_at": 1.0,
        "finished_at": 9.0,
        "duration": 8.0,
        "response": {"task_id": "t", "image_url": "https://cdn/x.png", "image_width": "1024", "image_height": 1024},
    }
    scripted.replies.append(web.json_response(record))
    found = await make_client(scripted.url).retrieve("t")
    assert found is not None
    assert found.elapsed == 8.0
    assert found.result is not None
    assert (found.result.image_width, found.result.image_height) == (1024, 1024)


# -- callbacks -------------------------------------------------------------------------------------


def test_parse_callback_accepts_a_result() -> None:
    result = parse_callback({"task_id": "t", "success": False, "error": {"code": "failed", "message": "boom"}})
    assert result.status is TaskStatus.FAILED
    assert (result.error_code, result.error_message) == ("failed", "boom")
    assert parse_callback(b'{"task_id": "t", "success": true}').status is TaskStatus.SUCCEEDED


@pytest.mark.parametrize("payload", [[{"task_id": "t"}], {"success": True}, "not json", None, {"task_id": ""}])
def test_parse_callback_refuses_anything_else(payload: Any) -> None:
    with pytest.raises(UnexpectedResponseError):
        parse_callback(payload)


async def test_each_http_call_is_told_to_the_observer_with_its_status(
    emulator: Emulator, make_client: Callable[..., AceDataClient]
) -> None:
    calls: list[tuple[str, int | None, float]] = []
    client = make_client(emulator.url, observe=lambda *call: calls.append(call))
    emulator.inject_fault(503, path="/midjourney/tasks")
    emulator.inject_fault(path="/midjourney/tasks", drop=True)
    receipt = await client.submit(ImagineGenerate(prompt="a harbour at dawn"))
    assert await client.retrieve(receipt.task_id) is not None  # 503, then no answer, then the record
    emulator.inject_fault(400, path="/midjourney/videos")
    with pytest.raises(BadRequestError):
        await client.submit(VideoGenerate(prompt="x", image_url=IMAGE))

    assert [(endpoint, status) for endpoint, status, _ in calls] == [
        ("imagine", 200),
        ("tasks", 503),
        ("tasks", None),
        ("tasks", 200),
        ("videos", 400),
    ]
    assert all(0 <= seconds < 5 for _, _, seconds in calls)
