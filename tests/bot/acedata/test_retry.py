"""How long the client waits between tries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.acedata.retry import MAX_RETRY_AFTER_S, RetryPolicy, parse_retry_after


def test_ceiling_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=5.0, multiplier=2.0)
    ceilings = [policy.delay(attempt, random=lambda: 1.0) for attempt in range(1, 7)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=20.0, multiplier=2.0)
    assert policy.delay(3, random=lambda: 0.0) == 0.0
    assert policy.delay(3, random=lambda: 0.25) == pytest.approx(1.0)
    # A misbehaving random source cannot push the delay outside [0, ceiling].
    assert policy.delay(3, random=lambda: 7.0) == pytest.approx(4.0)
    assert policy.delay(3, random=lambda: -1.0) == 0.0


def test_default_random_stays_within_bounds() -> None:
    policy = RetryPolicy()
    for attempt in range(1, 10):
        for _ in range(50):
            assert 0.0 <= policy.delay(attempt) <= policy.max_delay_s


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=20.0)
    assert policy.delay(1, retry_after=3.0, random=lambda: 1.0) == 3.0
    assert policy.delay(1, retry_after=3.0, random=lambda: 0.0) == 3.0
    # When the backoff is already longer, it wins.
    assert policy.delay(6, retry_after=3.0, random=lambda: 1.0) == 16.0


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy()
    assert policy.delay(1, retry_after=86_400.0, random=lambda: 0.0) == MAX_RETRY_AFTER_S
    assert policy.delay(1, retry_after=float("inf"), random=lambda: 0.0) == 0.0
    assert policy.delay(1, retry_after=-5.0, random=lambda: 0.0) == 0.0


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(max_delay_s=20.0, multiplier=10.0)
    assert policy.delay(10_000, random=lambda: 1.0) == 20.0


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": 0}, {"base_delay_s": -1.0}, {"max_delay_s": -1.0}, {"multiplier": 0.5}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_retry_after_seconds() -> None:
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(" 30 ") == 30.0
    assert parse_retry_after("-4") == 0.0


def test_retry_after_http_date() -> None:
    now = datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(42.0)
    past = format_datetime(now - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


@pytest.mark.parametrize("header", [None, "", "soon", "nan", "Mon, 99 Foo 2026"])
def test_unreadable_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header) is None
