"""The server gallery: a result starred by enough other members is posted once in the gallery channel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from discord_kit import Kit
    from fakediscord.model import FakeChannel, FakeMessage

from fakediscord.payloads import channel_payload

pytest_plugins = ("discord_kit",)

STAR = "\u2b50"


async def set_gallery(kit: Kit, threshold: int | None = None) -> FakeChannel:
    fake = kit.fake
    gallery = fake.add_channel(fake.guild, "gallery")

    def point(settings: dict[str, Any]) -> dict[str, Any]:
        changed = {**settings, "gallery_channel": gallery.id}
        return changed if threshold is None else {**changed, "gallery_threshold": threshold}

    await kit.store.settings.update_guild_settings(fake.guild.id, point)
    return gallery


def gallery_posts(kit: Kit, gallery: FakeChannel) -> list[FakeMessage]:
    return [message for message in kit.fake.messages(gallery) if message.embeds]


async def star(kit: Kit, message: FakeMessage, *users: Any) -> None:
    for user in users:
        await kit.fake.react(message, emoji=STAR, user=user)
    await kit.settle()


async def test_three_stars_from_others_post_the_result_once_crediting_its_owner(kit: Kit) -> None:
    fake = kit.fake
    job, message = await kit.make_grid(user=fake.bob, prompt="a lighthouse in a storm")  # made before the gallery
    gallery = await set_gallery(kit)

    await star(kit, message, fake.bob, fake.alice, fake.moderator)  # the owner's own star does not count
    assert gallery_posts(kit, gallery) == []

    await star(kit, message, fake.owner)
    await fake.wait_for_message(gallery, lambda posted: bool(posted.embeds))
    [post] = gallery_posts(kit, gallery)
    embed = post.embeds[0]
    assert "a lighthouse in a storm" in str(embed.get("description"))
    assert any(field["value"] == f"<@{fake.bob.id}>" for field in embed["fields"])
    assert embed["url"].endswith(f"/{fake.guild.id}/{message.channel_id}/{message.id}")
    assert embed.get("image", {}).get("url") == job.image_url
    assert post.bodies[0]["allowed_mentions"]["parse"] == []
    assert "3 stars" in post.content

    stored = await kit.store.jobs.get_job(job.id)
    assert stored is not None and stored.meta.gallery_post == post.id
    await star(kit, message, fake.add_user("late", global_name="Late"))
    assert len(gallery_posts(kit, gallery)) == 1, "posted once, whatever comes after"


async def test_the_threshold_and_no_gallery(kit: Kit) -> None:
    fake = kit.fake
    _, message = await kit.make_grid(user=fake.bob)
    await star(kit, message, fake.alice, fake.moderator, fake.owner)
    posted = [m for m in fake.messages(fake.general) if m.embeds and "⭐" in str(m.embeds[0].get("footer"))]
    assert posted == [], "without a gallery nothing is posted"

    gallery = await set_gallery(kit, threshold=1)
    _, second = await kit.make_grid(user=fake.bob, prompt="a second fox")
    await star(kit, second, fake.alice)
    await fake.wait_for_message(gallery, lambda posted: bool(posted.embeds))
    assert len(gallery_posts(kit, gallery)) == 1


async def test_unfinished_and_unknown_messages_are_not_posted(kit: Kit) -> None:
    fake = kit.fake
    gallery = await set_gallery(kit, threshold=1)
    note = await fake.user_message(fake.general, "just a message", user=fake.alice)
    await star(kit, note, fake.bob)
    assert gallery_posts(kit, gallery) == []


async def test_gallery_commands_are_for_moderators_and_set_the_channel(kit: Kit) -> None:
    fake = kit.fake
    gallery = fake.add_channel(fake.guild, "showcase")
    await fake.dispatch("CHANNEL_CREATE", channel_payload(gallery))
    await kit.until(lambda: kit.bot.get_channel(gallery.id) is not None, what="the new channel")
    handle = await fake.slash("admin", {"channel": gallery}, subcommand="gallery set", user=fake.alice)
    assert "Only this server's moderators can use `/admin`" in await kit.reply_text(handle)
    handle = await fake.slash("admin", {"channel": gallery}, subcommand="gallery set", user=fake.owner)
    assert "Gallery: none" in await kit.reply_text(handle)
    handle = await fake.slash("admin", {"stars": 5}, subcommand="gallery threshold", user=fake.owner)
    assert "3 → 5" in await kit.reply_text(handle)
    settings = await kit.store.settings.guild_settings(fake.guild.id)
    assert settings["gallery_channel"] == gallery.id and settings["gallery_threshold"] == 5
    handle = await fake.slash("admin", {}, subcommand="gallery clear", user=fake.owner)
    assert "→ none" in await kit.reply_text(handle)
