"""Parsing task records and results: what the engine reads from every poll and callback."""

from __future__ import annotations

from typing import Any

import pytest

from bot.acedata.models import TaskRecord, TaskResult, TaskStatus

RUNNING: dict[str, Any] = {
    "id": "task-1",
    "type": "imagine",
    "trace_id": "trace-1",
    "request": {"action": "generate", "prompt": "a fox", "mode": "fast", "async": True},
    "response": {"task_id": "task-1", "progress": 40},
    "created_at": 1_700_000_000.5,
    "started_at": 1_700_000_001.0,
    "finished_at": None,
    "elapsed": None,
}


def test_a_running_record_reads_as_running_with_its_progress() -> None:
    record = TaskRecord.parse(RUNNING)
    assert record is not None
    assert (record.task_id, record.type, record.trace_id) == ("task-1", "imagine", "trace-1")
    assert (record.created_at, record.started_at, record.finished_at, record.elapsed) == (
        1_700_000_000.5,
        1_700_000_001.0,
        None,
        None,
    )
    assert record.status is TaskStatus.RUNNING and record.progress == 40
    assert record.result == TaskResult("task-1", None, progress=40)
    assert record.request == RUNNING["request"]


def test_the_request_is_read_only_and_not_copied() -> None:
    body = dict(RUNNING, request={"action": "generate", "prompt": "a fox"})
    record = TaskRecord.parse(body)
    assert record is not None
    with pytest.raises(TypeError):
        record.request["prompt"] = "changed"  # type: ignore[index]
    body["request"]["mode"] = "turbo"  # a view: what the record was parsed from shows through
    assert record.request["mode"] == "turbo"
    assert TaskRecord.parse(dict(RUNNING, request=None)).request == {}  # type: ignore[union-attr]


def test_a_finished_image_result_keeps_every_field() -> None:
    result = TaskResult.parse(
        {
            "success": True,
            "task_id": "task-2",
            "progress": 100,
            "image_id": "img-2",
            "image_url": "https://cdn.example/grid.png",
            "image_width": "2048",  # sizes come as strings in some answers
            "image_height": 1536.0,
            "raw_image_url": "https://cdn.example/raw.png",
            "raw_image_width": 4096,
            "raw_image_height": 3072,
            "actions": ["upscale1", "", "reroll", 7],
            "sub_image_urls": ["https://cdn.example/1.png"],
            "unknown_key": {"ignored": True},
        }
    )
    assert result.status is TaskStatus.SUCCEEDED
    assert (result.image_id, result.image_width, result.image_height) == ("img-2", 2048, 1536)
    assert (result.raw_image_url, result.raw_image_width, result.raw_image_height) == (
        "https://cdn.example/raw.png",
        4096,
        3072,
    )
    assert result.actions == ("upscale1", "reroll", "7")
    assert result.sub_image_urls == ("https://cdn.example/1.png",)
    assert (result.video_id, result.video_urls, result.error_code) == (None, (), None)


def test_lenient_and_odd_values() -> None:
    failed = TaskResult.parse({"task_id": 12, "success": "yes", "error": {"message": "it broke"}, "progress": "inf"})
    assert (failed.task_id, failed.success, failed.progress) == ("12", None, None)
    assert (failed.error_code, failed.error_message, failed.status) == ("unknown", "it broke", TaskStatus.FAILED)
    legacy = TaskRecord.parse({"task_id": "task-3", "duration": "12.5", "state": "failed", "response": {}})
    assert legacy is not None
    assert (legacy.elapsed, legacy.result, legacy.status) == (12.5, None, TaskStatus.FAILED)
    assert TaskRecord.parse({}) is None
    assert TaskRecord.parse({"id": "", "task_id": ""}) is None
