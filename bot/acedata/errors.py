"""Errors of the Ace Data Cloud API, built from its documented envelope.

Every error carries the HTTP status (``0`` when no answer came), the API's ``code``, a
human-readable ``message`` and the ``trace_id`` to quote to Ace Data Cloud's support.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class AceDataError(Exception):
    """Base class for everything the API client raises."""

    default_code: ClassVar[str] = "api_error"
    #: Whether repeating the same call may succeed (polls only; submits have their own rule).
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int = 0,
        trace_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status
        self.trace_id = trace_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" (HTTP {self.status})" if self.status else ""
        trace = f" [trace {self.trace_id}]" if self.trace_id else ""
        return f"{self.code}{where}: {self.message}{trace}"


class BadRequestError(AceDataError):
    """400: a parameter is missing or wrong; fix the request, do not repeat it."""

    default_code = "bad_request"


class InvalidTokenError(AceDataError):
    """401 (or 400 ``token_mismatched``): the API token is missing, wrong or not for this API."""

    default_code = "invalid_token"


class ForbiddenError(AceDataError):
    """403: the request was refused, typically by the content moderation of the prompt."""

    default_code = "forbidden"


class InsufficientCreditError(ForbiddenError):
    """The account has run out of credit (a refusal whose code or message says so)."""

    default_code = "insufficient_balance"


class RateLimitError(AceDataError):
    """429: too many requests; ``retry_after`` says when to try again, if the API said."""

    default_code = "too_many_requests"
    retryable = True


class ServerError(AceDataError):
    """5xx: the API failed on its side."""

    default_code = "api_error"
    retryable = True


class GenerationTimeoutError(ServerError):
    """504: the generation did not finish within the API's own time limit."""

    default_code = "timeout"


class ConnectionFailedError(AceDataError):
    """No answer: the connection was refused or dropped, or DNS failed."""

    default_code = "connection_error"
    retryable = True

    def __init__(self, message: str, *, sent: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: ``False`` when the request certainly never reached the API (so a submit may be repeated).
        self.sent = sent


class RequestTimeoutError(AceDataError):
    """The API did not answer within the client's own request timeout."""

    default_code = "request_timeout"
    retryable = True


class UnexpectedResponseError(AceDataError):
    """The API answered with something that is not the documented shape."""

    default_code = "unexpected_response"


_CREDIT_WORDS = ("credit", "balance", "insufficient", "quota", "余额")


def error_from_response(status: int, payload: Any, *, retry_after: float | None = None) -> AceDataError:
    """Build the matching error from an HTTP status and a (possibly malformed) JSON body."""
    code: str | None = None
    message: str | None = None
    trace_id: str | None = None
    if isinstance(payload, Mapping):
        error = payload.get("error")
        if isinstance(error, Mapping):
            code = _text(error.get("code"))
            message = _text(error.get("message"))
        elif payload.get("detail") is not None:
            message = _text(payload.get("detail"))
        trace_id = _text(payload.get("trace_id"))
    message = message or f"the API answered HTTP {status}"
    kwargs: dict[str, Any] = {"code": code, "status": status, "trace_id": trace_id, "retry_after": retry_after}
    lowered = f"{code or ''} {message}".lower()
    if status == 401 or code in {"invalid_token", "token_mismatched"}:
        return InvalidTokenError(message, **kwargs)
    if status == 429 or code == "too_many_requests":
        return RateLimitError(message, **kwargs)
    if status in (402, 403) or code == "forbidden":
        if status == 402 or any(word in lowered for word in _CREDIT_WORDS):
            return InsufficientCreditError(message, **kwargs)
        return ForbiddenError(message, **kwargs)
    if status == 504 or code == "timeout":
        return GenerationTimeoutError(message, **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    if 400 <= status < 500:
        return BadRequestError(message, **kwargs)
    return UnexpectedResponseError(message, **kwargs)


def _text(value: Any) -> str | None:
    return None if value is None else str(value) or None
