"""One error policy: API refusals become clear ephemeral messages, surprises a logged reference; nothing is left
in the channel, whether the interaction was answered yet or not."""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from discord import app_commands

from bot.acedata.errors import (
    BadRequestError,
    ConnectionFailedError,
    ForbiddenError,
    InsufficientCreditError,
    InvalidTokenError,
    RateLimitError,
    ServerError,
)
from bot.options import InputError
from cogs.common import UserFacingError
from cogs.errors import describe, new_reference

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

REFERENCE = re.compile(r"reference ([A-Z2-9]{6})")


async def no_sleep(_seconds: float) -> None:
    return None


async def test_a_moderated_prompt_is_refused_with_the_reason(kit: Kit) -> None:
    handle = await kit.fake.slash("imagine", {"prompt": f"a {kit.FORBIDDEN_WORD} door"}, user=kit.fake.bob)
    assert await handle.wait_for_response() == 5
    text = await kit.reply_text(handle)
    assert text.startswith("Your prompt was refused by Ace Data Cloud's moderation: ")
    assert f"'{kit.FORBIDDEN_WORD}' is not allowed" in text and text.endswith("Change the prompt and try again.")
    assert kit.public_messages(handle) == []
    assert kit.task_count() == 0


async def test_a_moderated_prompt_in_the_extend_modal(kit: Kit) -> None:
    fake = kit.fake
    _, message = await kit.make_video(user=fake.bob)
    opener = await fake.click(message, kit.button(message, "extm"), user=fake.bob)
    modal = await opener.wait_for_modal()
    handle = await fake.submit_modal(modal["custom_id"], {"prompt": f"{kit.FORBIDDEN_WORD} moves", "clip": "1"})
    assert "refused by Ace Data Cloud's moderation" in await kit.reply_text(handle)
    assert kit.public_messages(handle) == []
    assert kit.task_count() == 1


async def test_too_many_requests_says_when_to_try_again(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit.bot.services.client, "_sleep", no_sleep)  # the client's retries, without the waits
    kit.emulator.inject_fault(429, count=10, retry_after=30)
    before = time.time()
    handle = await kit.fake.slash("imagine", {"prompt": "a busy street"}, user=kit.fake.bob)
    text = await kit.reply_text(handle)
    match = re.search(r"Try again <t:(\d+):R>\.", text)
    assert match is not None, text
    assert before + 29 <= int(match[1]) <= time.time() + 32
    assert kit.public_messages(handle) == [] and kit.task_count() == 0


async def test_no_credit_left_asks_to_tell_the_admins(kit: Kit) -> None:
    kit.emulator.inject_fault(403, code="insufficient_balance", message="Your credit balance is insufficient")
    handle = await kit.fake.slash("imagine", {"prompt": "a quiet library"}, user=kit.fake.bob)
    text = await kit.reply_text(handle)
    assert "credit is used up" in text and "admins" in text
    assert kit.public_messages(handle) == []


async def test_a_rejected_token_is_for_the_operator(kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    kit.emulator.inject_fault(401)
    handle = await kit.fake.slash("imagine", {"prompt": "a locked gate"}, user=kit.fake.bob)
    text = await kit.reply_text(handle)
    assert "API token was rejected" in text and "operator" in text
    assert any(r.name == "cogs.errors" and "token" in r.getMessage() for r in caplog.records)


async def test_a_surprise_shows_a_reference_that_is_in_the_log(
    kit: Kit, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(kit.bot.services.engine, "submit", broken)
    handle = await kit.fake.slash("imagine", {"prompt": "a calm lake"}, user=kit.fake.bob)
    text = await kit.reply_text(handle)
    match = REFERENCE.search(text)
    assert text.startswith("Something went wrong (reference ") and match is not None
    assert "disk" not in text  # details are for the log, not for the channel
    assert kit.public_messages(handle) == []
    [record] = [r for r in caplog.records if match[1] in r.getMessage()]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert f"guild {kit.fake.guild.id}" in record.getMessage() and "/imagine" in record.getMessage()


async def test_a_surprise_after_a_click_is_answered_the_same_way(
    kit: Kit, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    grid, message = await kit.make_grid(user=kit.fake.bob)

    async def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(kit.bot.services.engine, "submit", broken)
    click = await kit.fake.click(message, kit.button(message, "img", "upscale1"), user=kit.fake.bob)
    assert await click.wait_for_response() == 5  # it had said "thinking..." in public before the failure
    text = await kit.reply_text(click)
    match = REFERENCE.search(text)
    assert match is not None
    assert kit.public_messages(click) == []
    [record] = [r for r in caplog.records if match[1] in r.getMessage()]
    assert f"job {grid.id}" in record.getMessage()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (InputError("`image_url` is bad"), "`image_url` is bad"),
        (UserFacingError("Only the owner"), "Only the owner"),
        (ForbiddenError("contains a banned word."), "moderation: contains a banned word. Change the prompt"),
        (InsufficientCreditError("no balance"), "credit is used up"),
        (RateLimitError("slow down", retry_after=None), "Try again <t:1060:R>."),
        (RateLimitError("slow down", retry_after=5), "Try again <t:1005:R>."),
        (InvalidTokenError("bad token"), "its API token was rejected"),
        (ServerError("boom", code="api_error"), "could not take this job right now (api_error)"),
        (ConnectionFailedError("down", sent=False), "(connection_error)"),
        (BadRequestError("bad", code="bad_request"), "(bad_request)"),
        (app_commands.NoPrivateMessage(), "cannot be used in direct messages"),
    ],
)
def test_what_each_error_says(error: Exception, expected: str) -> None:
    assert expected in describe(error, now=1000.0)


def test_wrapped_errors_are_unwrapped_and_references_are_short() -> None:
    command = app_commands.Command(name="x", description="x", callback=_callback)
    wrapped = app_commands.CommandInvokeError(command, InputError("`prompt` is empty"))
    assert describe(wrapped) == "`prompt` is empty"
    references = {new_reference() for _ in range(50)}
    assert len(references) == 50 and all(REFERENCE.fullmatch(f"reference {r}") for r in references)


async def _callback(interaction: Any) -> None:
    return None
