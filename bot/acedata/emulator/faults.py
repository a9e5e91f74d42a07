"""Faults that tests (or the admin route) arm for the next requests to the emulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The error code the API uses for each HTTP status.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    429: "too_many_requests",
    500: "api_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "timeout",
}
STATUS_MESSAGES: dict[int, str] = {
    400: "The request is invalid.",
    401: "The specified token is invalid or wrong.",
    403: "The request was refused.",
    429: "Too many requests, please slow down.",
    500: "fetch failed",
    504: "Timeout to generate the image.",
}


@dataclass(eq=False)
class Fault:
    """An armed fault: what the next ``remaining`` matching requests get instead of a normal answer."""

    status: int | None = None
    path: str | None = None
    remaining: int = 1
    retry_after: float | None = None
    delay_s: float = 0.0
    drop: bool = False
    code: str | None = None
    message: str | None = None
    #: How many requests this fault has hit so far.
    hits: int = field(default=0)

    @property
    def error_code(self) -> str:
        if self.code:
            return self.code
        status = self.status or 500
        return STATUS_CODES.get(status, "api_error" if status >= 500 else "bad_request")

    @property
    def error_message(self) -> str:
        if self.message:
            return self.message
        return STATUS_MESSAGES.get(self.status or 500, f"The API answered HTTP {self.status}.")

    def matches(self, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.path is None:
            return path.startswith("/midjourney/")
        return path == self.path

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "path": self.path,
            "remaining": self.remaining,
            "retry_after": self.retry_after,
            "delay_s": self.delay_s,
            "drop": self.drop,
            "code": self.code,
            "message": self.message,
            "hits": self.hits,
        }


class FaultBook:
    """Armed faults, consumed first-armed first."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def arm(self, fault: Fault) -> Fault:
        if fault.status is not None and not 400 <= fault.status <= 599:
            raise ValueError(f"a fault status must be an HTTP error status, not {fault.status}")
        if fault.remaining < 1:
            raise ValueError("a fault must apply to at least one request")
        if fault.delay_s < 0:
            raise ValueError("a fault delay cannot be negative")
        self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The fault that applies to this request, if any; counts the hit."""
        for fault in self._faults:
            if fault.matches(path):
                fault.remaining -= 1
                fault.hits += 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()

    @property
    def armed(self) -> tuple[Fault, ...]:
        return tuple(self._faults)
