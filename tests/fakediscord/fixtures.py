"""pytest fixtures: a started FakeDiscord with discord.py pointed at it, and a guard against swallowed errors.

discord.py catches exceptions raised in commands, views and listeners and only logs them, so a broken
handler would let a test pass. Every test in a session that loads this plugin fails if a ``discord.*``
logger logged an ERROR, unless the test is marked ``allow_discord_errors`` (optionally with substrings
that the allowed records must contain).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Generator, Iterable, Iterator
from typing import Any

import pytest

from .server import FakeDiscord


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fake_discord(**options): keyword arguments for the fake_discord server")
    config.addinivalue_line(
        "markers",
        "allow_discord_errors(*substrings): do not fail the test for discord.* ERROR logs "
        "(only for those containing one of the substrings, if any are given)",
    )


@pytest.fixture
async def fake_discord(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py's REST base and gateway URL pointed at it, restored afterwards.

    Options come from ``@pytest.mark.fake_discord(compress=True, enforce_3s_ack=True, ...)``.
    """
    marker = request.node.get_closest_marker("fake_discord")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    async with FakeDiscord(**options) as fake:
        yield fake
    if fake.server_errors:
        pytest.fail("the fake Discord server failed on requests:\n" + "\n".join(fake.server_errors), pytrace=False)


def discord_error_records(records: Iterable[logging.LogRecord]) -> list[logging.LogRecord]:
    """The records a ``discord`` logger (or a child) logged at ERROR or above."""
    return [r for r in records if r.levelno >= logging.ERROR and (r.name == "discord" or r.name.startswith("discord."))]


def describe_records(records: Iterable[logging.LogRecord]) -> str:
    lines = []
    for record in records:
        lines.append(f"{record.name} {record.levelname}: {record.getMessage()}")
        if record.exc_info and record.exc_info[1] is not None:
            lines.extend("    " + line for line in traceback.format_exception(*record.exc_info)[-6:])
    return "\n".join(lines)


def _record_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + "".join(traceback.format_exception(*record.exc_info))
    return text


def unallowed_errors(item: pytest.Item, records: Iterable[logging.LogRecord]) -> list[logging.LogRecord]:
    """discord.py ERROR records the test's ``allow_discord_errors`` marker (if any) does not cover."""
    errors = discord_error_records(records)
    marker = item.get_closest_marker("allow_discord_errors")
    if marker is None:
        return errors
    if not marker.args:
        return []
    return [r for r in errors if not any(str(s) in _record_text(r) for s in marker.args)]


@pytest.fixture(autouse=True)
def discord_error_guard(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if discord.py logged an ERROR; setup and call are checked in the report hook below."""
    yield
    # Errors logged while other fixtures were torn down (a bot closing, say) arrive in this phase.
    errors = unallowed_errors(request.node, caplog.records)
    if errors:
        pytest.fail("discord.py logged errors during teardown:\n" + describe_records(errors), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    caplog = getattr(item, "funcargs", {}).get("caplog")
    if call.when == "call" and report.passed and isinstance(caplog, pytest.LogCaptureFixture):
        errors = unallowed_errors(item, [*caplog.get_records("setup"), *caplog.get_records("call")])
        if errors:
            report.outcome = "failed"
            report.longrepr = "discord.py logged errors (handler exceptions are only logged):\n" + describe_records(
                errors
            )
    return report
