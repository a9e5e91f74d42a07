"""A provider incident as a server sees it: members are told once in plain words and nothing is sent, the audit
channel gets one post when it starts and one when it ends, and /admin status shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from discord_kit import Kit
    from fakediscord.model import FakeMessage

pytest_plugins = ("discord_kit",)

PAUSED = "The video service is having trouble right now, so new jobs are paused."


def text_of(message: FakeMessage) -> str:
    parts = [message.content]
    for embed in message.embeds:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [f"{field['name']}: {field['value']}" for field in embed.get("fields") or []]
    return "\n".join(parts)


async def audit_into_general(kit: Kit) -> int:
    guild_id = kit.fake.guild.id

    def point(settings: dict[str, Any]) -> dict[str, Any]:
        return {**settings, "audit_channel": kit.fake.general.id}

    await kit.store.settings.update_guild_settings(guild_id, point)
    return kit.fake.general.id


def incident_posts(kit: Kit) -> list[str]:
    return [
        text_of(message)
        for message in kit.fake.messages(kit.fake.general)
        if message.embeds and str(message.embeds[0].get("footer", {}).get("text", "")).startswith("incident")
    ]


async def test_an_outage_pauses_new_jobs_posts_once_and_reopens_by_itself(kit: Kit) -> None:
    fake = kit.fake
    await audit_into_general(kit)
    health = kit.bot.services.engine.api_health
    health.open_after_s, health.min_failures, health.probe_every_s = 0.3, 2, 0.05

    kit.emulator.inject_fault(503, count=100_000)
    for attempt in range(2):  # the API fails these: each member hears that it could not take the job
        handle = await fake.slash("imagine", {"prompt": f"a storm {attempt}"}, user=fake.bob)
        assert "could not take this job" in await kit.reply_text(handle)
    await kit.until(lambda: health.incident is not None, what="the incident to open")
    await kit.until(lambda: len(incident_posts(kit)) == 1, what="the audit post")
    assert "New jobs are paused" in incident_posts(kit)[0]

    calls = len(kit.emulator.requests)
    handle = await fake.slash("imagine", {"prompt": "a calm sea"}, user=fake.alice)
    said = await kit.reply_text(handle)
    assert said.startswith(PAUSED) and "nothing was charged" in said
    assert kit.public_messages(handle) == []
    assert not any(request.path.endswith("/imagine") for request in kit.emulator.requests[calls:])

    status = await fake.slash("admin", {}, subcommand="status", user=fake.owner)
    shown = await status.wait_for_message(lambda message: message.ephemeral and not message.loading)
    assert "has been failing since" in text_of(shown) and "Jobs under way" in text_of(shown)

    kit.emulator.clear_faults()
    await kit.until(lambda: health.incident is None, what="the incident to close", timeout=10)
    await kit.until(lambda: len(incident_posts(kit)) == 2, what="the audit post of the end")
    assert "answers again" in incident_posts(kit)[1]
    handle = await fake.slash("imagine", {"prompt": "a calm sea"}, user=fake.alice)
    await handle.wait_for_original(lambda message: "a calm sea" in text_of(message))
    assert len(incident_posts(kit)) == 2, "one post when it starts, one when it ends: not one per job"
