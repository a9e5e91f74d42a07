"""The API's answers read: a JSON object or the error it stands for, a task result, a page of task records, and
the body the API POSTs to a callback URL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import UnexpectedResponseError, error_from_response
from .models import JsonObject, TaskRecord, TaskResult

MAX_TASK_ID_CHARS = 128


def parse_callback(payload: Any) -> TaskResult:
    """Validate the body the API POSTs to a ``callback_url``: a JSON object naming its ``task_id``."""
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise UnexpectedResponseError("the callback body is not JSON") from exc
    if not isinstance(payload, Mapping):
        raise UnexpectedResponseError("the callback body is not a JSON object")
    task_id = payload.get("task_id")
    if not text_of(task_id):
        raise UnexpectedResponseError("the callback body has no task_id")
    if not isinstance(task_id, str) or len(task_id) > MAX_TASK_ID_CHARS or not task_id.isprintable():
        raise UnexpectedResponseError(
            f"the callback's task_id must be a string of at most {MAX_TASK_ID_CHARS} printable characters"
        )
    return TaskResult.parse(payload)


def decode_object(status: int, raw: bytes, content_type: str, retry_after: float | None) -> JsonObject:
    """Decode an answer into a JSON object, or raise the error it stands for."""
    try:
        payload: Any = json.loads(raw) if raw and not raw.isspace() else None
        decoded = True
    except ValueError:
        payload, decoded = None, False
    if status >= 400:
        raise error_from_response(status, payload, retry_after=retry_after)
    if not 200 <= status < 300:
        raise UnexpectedResponseError(f"the API answered HTTP {status}", status=status)
    if not decoded or not isinstance(payload, dict):
        kind = content_type.split(";")[0].strip() or "an empty body"
        shape = "a JSON " + type(payload).__name__ if decoded and payload is not None else kind
        raise UnexpectedResponseError(f"expected a JSON object from the API, got {shape}", status=status)
    error = payload.get("error")
    if isinstance(error, Mapping) and payload.get("success") is not True and not text_of(payload.get("task_id")):
        # An error envelope behind a 2xx status: no task exists to report it on.
        raise error_from_response(status, payload, retry_after=retry_after)
    return payload


def result_of(status: int, payload: JsonObject) -> TaskResult:
    if not text_of(payload.get("task_id")):
        raise UnexpectedResponseError("the API sent a task result without a task_id", status=status)
    return TaskResult.parse(payload)


def batch_page(status: int, payload: JsonObject) -> tuple[list[TaskRecord], int, int | None]:
    """Records of one ``retrieve_batch`` answer, how many items it held, and the total count if given."""
    if not payload:
        return [], 0, 0
    items = payload.get("items")
    if not isinstance(items, list):
        raise UnexpectedResponseError("the task batch answer has no items list", status=status)
    parse = TaskRecord.parse
    records = [
        record for item in items if (type(item) is dict or isinstance(item, Mapping)) and (record := parse(item))
    ]
    count = payload.get("count")
    total = count if isinstance(count, int) and not isinstance(count, bool) else None
    return records, len(items), total


def text_of(value: Any) -> str | None:
    return None if value is None else str(value) or None
