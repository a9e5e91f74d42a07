"""A click on a job's buttons is acknowledged before anything that may wait: Discord drops it after 3 seconds.

A click can wait for an identical click that is being submitted, and for the member's previous submit (the
gate's turn). Here those are held by a slow API (the emulator stalls the submit) for longer than Discord's
3-second window, with the waits made long enough that the click really waits for the release; the click
must have been deferred before the release all the same. ✏️ Extend… answers with a modal, never a defer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fakediscord import InteractionHandle, RecordedRequest

from cogs import gate, repeats

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

#: How long the emulator holds the submit that holds the lock.
HOLD_S = 3.5


def callback_of(kit: Kit, handle: InteractionHandle) -> RecordedRequest:
    [request] = kit.fake.requests_matching("POST", rf"/interactions/{handle.id}/[^/]+/callback")
    return request


def first_edit(kit: Kit, handle: InteractionHandle) -> RecordedRequest:
    """The first edit of the interaction's job message: it comes once the stalled submit is done."""
    edits = kit.fake.requests_matching("PATCH", rf"/webhooks/\d+/{handle.token}/messages/.*")
    assert edits, f"no edit of the job message of {handle}"
    return edits[0]


@pytest.fixture
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clicks wait for the claim and the member's turn until they are released, however long that takes."""
    monkeypatch.setattr(repeats, "DUPLICATE_WAIT_S", 30.0)
    monkeypatch.setattr(gate, "TURN_WAIT_S", 30.0)


@pytest.mark.usefixtures("patient")
async def test_a_double_click_is_deferred_while_the_first_click_is_submitted(kit: Kit) -> None:
    fake = kit.fake
    _, grid = await kit.make_grid(user=fake.bob)
    upscale = kit.button(grid, "img", "upscale1")
    kit.emulator.inject_fault(path="/midjourney/imagine", delay_s=HOLD_S)
    first = await fake.click(grid, upscale, user=fake.bob)
    assert await first.wait_for_response() == 5
    await kit.until(lambda: kit.submits("imagine")[1:], what="the first click's submit to reach the API")

    second = await fake.click(grid, upscale, user=fake.bob)  # waits for the first one's claim
    assert await second.wait_for_response() == 5
    await kit.job_message(first, timeout=HOLD_S + 5)

    assert callback_of(kit, second).index < first_edit(kit, first).index, "deferred only after the claim was free"
    assert "already on it" in (await kit.reply_text(second)).lower()
    assert kit.public_messages(second) == [], "the placeholder of the repeated click was removed"
    assert kit.task_count() == 2, "one grid, one upscale"


@pytest.mark.usefixtures("patient")
async def test_a_click_is_deferred_while_the_members_previous_submit_is_under_way(kit: Kit) -> None:
    fake = kit.fake
    _, grid = await kit.make_grid(user=fake.bob)
    kit.emulator.inject_fault(path="/midjourney/imagine", delay_s=HOLD_S)
    command = await fake.slash("imagine", {"prompt": "a slow lighthouse"}, user=fake.bob)
    await kit.until(lambda: kit.submits("imagine")[1:], what="the command's submit to reach the API")

    click = await fake.click(grid, kit.button(grid, "img", "variation1"), user=fake.bob)  # waits for bob's turn
    assert await click.wait_for_response() == 5
    await kit.job_message(command, timeout=HOLD_S + 5)
    message = await kit.job_message(click, timeout=5)

    assert callback_of(kit, click).index < first_edit(kit, command).index, "deferred only after the turn was free"
    assert not message.ephemeral and kit.labels(message)


async def test_extend_with_a_new_prompt_still_opens_its_modal_first(kit: Kit) -> None:
    fake = kit.fake
    _, video = await kit.make_video(user=fake.bob)
    click = await fake.click(video, kit.button(video, "extm"), user=fake.bob)
    assert await click.wait_for_response() == 9, click.rejected_acks
    assert click.modal is not None


async def test_two_members_on_the_same_button_get_a_job_each(kit: Kit) -> None:
    fake = kit.fake
    await kit.store.settings.save_guild_settings(fake.guild.id, {"button_policy": "everyone"})
    _, grid = await kit.make_grid(user=fake.bob)
    upscale = kit.button(grid, "img", "upscale1")
    kit.emulator.inject_fault(path="/midjourney/imagine", delay_s=HOLD_S)  # bob's click is still being sent...
    bobs = await fake.click(grid, upscale, user=fake.bob)
    await kit.until(lambda: kit.submits("imagine")[1:], what="bob's submit to reach the API")
    alices = await fake.click(grid, upscale, user=fake.alice)  # ...when alice presses the same button
    bob_message = await kit.job_message(bobs, timeout=10)
    alice_message = await kit.job_message(alices, timeout=10)
    assert bob_message.id != alice_message.id  # alice is not told that bob's click was hers
    assert "Alice" in str(alice_message.wire()) and "Bob" in str(bob_message.wire())
    assert kit.task_count() == 3, "one grid, and an upscale for each member"
