"""A log of every HTTP request the fake served, for assertions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def index(self) -> int | None:
        match = re.fullmatch(r"files\[(\d+)\]", self.field)
        return int(match[1]) if match else None


@dataclass
class RecordedRequest:
    """One request: ``path`` is relative to /api/v10 for API calls (e.g. ``/channels/1/messages``)."""

    index: int
    method: str
    path: str
    #: The matched route template, e.g. ``/channels/{channel_id}/messages``; None for unknown routes.
    route: str | None
    query: dict[str, str]
    headers: dict[str, str]
    #: The JSON body, or the ``payload_json`` part of a multipart body.
    json: Any
    files: list[UploadedFile] = field(default_factory=list)
    status: int = 0
    response: Any = None
    #: Fake-clock time the request arrived.
    time: float = 0.0

    @property
    def multipart(self) -> bool:
        return "multipart/form-data" in self.headers.get("Content-Type", "")

    def __str__(self) -> str:
        query = "?" + "&".join(f"{k}={v}" for k, v in self.query.items()) if self.query else ""
        body = ""
        if self.json is not None:
            body = " " + _shorten(json.dumps(self.json, ensure_ascii=False))
        files = f" files={[f.filename for f in self.files]}" if self.files else ""
        return f"#{self.index} {self.method} {self.path}{query} -> {self.status}{body}{files}"


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Recorder:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []

    def __len__(self) -> int:
        return len(self.requests)

    def add(self, request: RecordedRequest) -> None:
        self.requests.append(request)

    def matching(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        route: str | None = None,
        status: int | None = None,
        since: int = 0,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> list[RecordedRequest]:
        """Requests by method (None for any), ``path`` regex (full match), route template and status."""
        pattern = re.compile(path) if path is not None else None
        return [
            r
            for r in self.requests[since:]
            if (method is None or r.method == method.upper())
            and (pattern is None or pattern.fullmatch(r.path))
            and (route is None or r.route == route)
            and (status is None or r.status == status)
            and (predicate is None or predicate(r))
        ]

    def summary(self, last: int = 15) -> str:
        if not self.requests:
            return "  (no requests)"
        return "\n".join(f"  {r}" for r in self.requests[-last:])
