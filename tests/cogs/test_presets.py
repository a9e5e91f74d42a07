"""Presets from any result: 💾 Save (a modal asks the name) or the 💾 reaction copies a result's settings into the
member's own presets, never a frame or a link; /video and /imagine start from one with their ``preset`` option
(autocompleted from the member's own), what is given explicitly winning; /settings lists and deletes them; and every
result's footer shows its job id and all it was made with."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bot.acedata.models import VideoGenerate
from bot.presets import MAX_PRESETS
from bot.store.models import Job, JobKind, JobStatus
from cogs.ui.render import FOOTER_LIMIT, render_job

if TYPE_CHECKING:
    from discord_kit import Kit
    from fakediscord import FakeMessage, FakeUser

pytest_plugins = ("discord_kit",)

#: A prompt that starts with an image link and carries an ``--sref`` link, as Midjourney prompts may.
LINKED_PROMPT = (
    "https://cdn.example/ref.png a kite rises over the dunes --motion low --raw --sref https://x.example/s.png"
)
SAVED = {
    "name": "Kite",
    "source": "video",
    "prompt": "a kite rises over the dunes",
    "parameters": "--motion low --raw",
    "mode": "fast",
    "resolution": "480p",
    "loop": False,
}


async def linked_video(kit: Kit, user: FakeUser) -> tuple[Job, FakeMessage]:
    """A finished video from a start and an end frame, at 480p, whose prompt holds links."""
    end = kit.fake.upload("end.png", kit.PNG)
    return await kit.make_video(user=user, prompt=LINKED_PROMPT, end_image_url=end.url, mode="fast", resolution="480p")


async def stored_presets(kit: Kit, user: FakeUser) -> list[dict[str, Any]]:
    settings = await kit.store.settings.user_settings(user.id)
    presets: list[dict[str, Any]] = settings.get("presets", [])
    return presets


async def save_with_modal(kit: Kit, message: FakeMessage, user: FakeUser, name: str) -> str:
    """Press 💾 Save, type ``name`` in its modal, and return the answer."""
    opener = await kit.fake.click(message, kit.button(message, "save"), user=user)
    assert await opener.wait_for_response() == 9  # a modal, at once
    modal = await opener.wait_for_modal()
    handle = await kit.fake.submit_modal(modal["custom_id"], {"name": name}, user=user)
    return await kit.reply_text(handle)


async def test_save_a_videos_settings_with_the_button_and_its_modal(kit: Kit) -> None:
    fake = kit.fake
    video, message = await linked_video(kit, fake.bob)
    assert "💾" in [(message.component(c) or {}).get("emoji", {}).get("name") for c in message.custom_ids]
    opener = await fake.click(message, kit.button(message, "save"), user=fake.bob)
    modal = await opener.wait_for_modal()
    assert "a kite rises over the dunes" in json.dumps(modal)  # the name is prefilled with the first words

    answer = await save_with_modal(kit, message, fake.bob, "  Kite  ")
    assert f"Saved the settings of job `{video.id}` as your preset **Kite**" in answer
    assert await stored_presets(kit, fake.bob) == [{**SAVED, "job": video.id}]
    # No frame, no link: not the start frame, not the end frame, not the links in the prompt.
    assert "://" not in json.dumps(await kit.store.settings.user_settings(fake.bob.id))

    # Anyone who sees the result may copy its settings into their own presets; the owner's stay as they were.
    answer = await save_with_modal(kit, message, fake.alice, "borrowed")
    assert "as your preset **borrowed**" in answer
    assert [p["name"] for p in await stored_presets(kit, fake.alice)] == ["borrowed"]
    assert [p["name"] for p in await stored_presets(kit, fake.bob)] == ["Kite"]

    again = await save_with_modal(kit, message, fake.bob, "KITE")  # a name in use (in any case) is replaced
    assert "replacing your earlier preset of that name" in again
    assert [p["name"] for p in await stored_presets(kit, fake.bob)] == ["KITE"]
    assert kit.task_count() == 1  # saving costs nothing


async def test_save_with_the_reaction_names_it_after_the_prompt(kit: Kit) -> None:
    fake = kit.fake
    video, message = await linked_video(kit, fake.bob)
    await fake.react(message, emoji="💾", user=fake.alice)
    dm = await fake.wait_for_dm(fake.alice)
    assert f"Saved the settings of job `{video.id}` as your preset **a kite rises over the dunes**" in dm.content
    [preset] = await stored_presets(kit, fake.alice)
    assert preset == {**SAVED, "name": "a kite rises over the dunes", "job": video.id}
    assert "://" not in json.dumps(await kit.store.settings.user_settings(fake.alice.id))
    assert await stored_presets(kit, fake.bob) == []


async def test_video_starts_from_a_preset_and_the_options_given_win(kit: Kit) -> None:
    fake = kit.fake
    _, message = await linked_video(kit, fake.bob)
    await save_with_modal(kit, message, fake.bob, "kite")
    start = fake.upload("boat.png", kit.PNG)

    handle = await fake.slash("video", {"preset": "kite", "image_url": start.url}, user=fake.bob)
    await kit.wait_done(await kit.job_message(handle))
    body = kit.submits("videos")[-1]
    assert body["prompt"] == "a kite rises over the dunes --motion low --raw"
    assert (body["mode"], body["resolution"], body["loop"]) == ("fast", "480p", False)  # 480p: the preset's
    assert "end_image_url" not in body and body["image_url"] == start.url  # the preset brings no frame

    options = {"preset": "kite", "image_url": start.url, "prompt": "a boat sails --motion high", "resolution": "720p"}
    handle = await fake.slash("video", options, user=fake.bob)
    await kit.wait_done(await kit.job_message(handle))
    body = kit.submits("videos")[-1]
    assert body["prompt"] == "a boat sails --motion high --raw"  # the words and --motion given; --raw the preset's
    assert body["resolution"] == "720p"

    # /imagine takes what applies to images and says what it left out.
    handle = await fake.slash("imagine", {"preset": "kite"}, user=fake.bob)
    await kit.wait_done(await kit.job_message(handle))
    body = kit.submits("imagine")[-1]
    assert (body["prompt"], body["mode"]) == ("a kite rises over the dunes --raw", "fast")
    note = await kit.reply_text(handle)
    assert "Preset **kite**: `/imagine` has no use for `--motion low`, the resolution 480p" in note

    unknown = await fake.slash("video", {"preset": "nope", "image_url": start.url}, user=fake.bob)
    assert "You have no preset called `nope`" in await kit.reply_text(unknown)
    nothing = await fake.slash("imagine", {}, user=fake.bob)
    assert "or start from one of your presets with `preset`" in await kit.reply_text(nothing)
    assert kit.task_count() == 4


async def test_autocomplete_offers_the_members_own_presets_only(kit: Kit) -> None:
    fake = kit.fake
    _, message = await linked_video(kit, fake.bob)
    await save_with_modal(kit, message, fake.bob, "kite high")
    await save_with_modal(kit, message, fake.bob, "dunes")
    await save_with_modal(kit, message, fake.alice, "alice's kite")

    for command in ("video", "imagine"):
        handle = await fake.autocomplete(command, {"preset": ""}, focused="preset", user=fake.bob)
        assert await handle.wait_for_response() == 8
        assert [choice["value"] for choice in handle.choices or []] == ["kite high", "dunes"]
    handle = await fake.autocomplete("video", {"preset": "KI"}, focused="preset", user=fake.bob)
    await handle.wait_for_response()
    assert [choice["value"] for choice in handle.choices or []] == ["kite high"]
    assert (handle.choices or [])[0]["name"].startswith("🎬 kite high · a kite rises")
    handle = await fake.autocomplete("settings", {"delete_preset": "kite"}, focused="delete_preset", user=fake.alice)
    await handle.wait_for_response()
    assert [choice["value"] for choice in handle.choices or []] == ["alice's kite"]


async def test_a_member_keeps_at_most_25_presets(kit: Kit) -> None:
    fake = kit.fake
    _, message = await linked_video(kit, fake.bob)
    full = [{"name": f"p{n}", "source": "imagine", "prompt": f"image {n}"} for n in range(MAX_PRESETS)]
    await kit.store.settings.save_user_settings(fake.bob.id, {"presets": full})

    answer = await save_with_modal(kit, message, fake.bob, "one more")
    assert "You already keep 25 presets, the most there can be" in answer
    assert "/settings delete_preset:" in answer
    assert len(await stored_presets(kit, fake.bob)) == MAX_PRESETS
    answer = await save_with_modal(kit, message, fake.bob, "p3")  # replacing one is fine
    assert "replacing your earlier preset" in answer
    assert [p["name"] for p in await stored_presets(kit, fake.bob)] == [f"p{n}" for n in range(MAX_PRESETS)]

    too_long = await save_with_modal(kit, message, fake.bob, "x" * 41)
    assert "at most 40 characters" in too_long


async def test_settings_lists_and_deletes_presets_and_keeps_them_through_other_changes(kit: Kit) -> None:
    fake = kit.fake
    _, message = await linked_video(kit, fake.bob)
    await save_with_modal(kit, message, fake.bob, "kite")
    await save_with_modal(kit, message, fake.bob, "dunes")

    changed = await fake.slash("settings", {"resolution": "480p"}, user=fake.bob)  # another setting changed
    panel = await changed.wait_for_message(lambda m: m.ephemeral and bool(m.embeds))
    assert "2 of 25 saved" in json.dumps(panel.embeds)
    assert [p["name"] for p in await stored_presets(kit, fake.bob)] == ["kite", "dunes"]

    listed = await fake.slash("settings", {"presets": True}, user=fake.bob)
    await kit.until(lambda: len(listed.messages) >= 2, what="the panel and the list")
    text = json.dumps(listed.messages[-1].embeds, ensure_ascii=False)
    assert "Your presets (2 of 25)" in text and "🎬 kite" in text and "a kite rises over the dunes" in text

    deleted = await fake.slash("settings", {"delete_preset": "KITE"}, user=fake.bob)
    await kit.until(lambda: len(deleted.messages) >= 2, what="the panel and the list")
    assert "Deleted your preset **kite**" in json.dumps(deleted.messages[-1].embeds, ensure_ascii=False)
    assert [p["name"] for p in await stored_presets(kit, fake.bob)] == ["dunes"]

    missing = await fake.slash("settings", {"delete_preset": "kite"}, user=fake.bob)
    assert "You have no preset called `kite`" in await kit.reply_text(missing)


async def test_a_results_footer_shows_its_job_id_and_everything_it_was_made_with(kit: Kit) -> None:
    fake = kit.fake
    video, message = await linked_video(kit, fake.bob)
    footer = message.embeds[0]["footer"]["text"]
    assert footer.startswith(f"Job {video.id} · /video · prompt: {LINKED_PROMPT} · mode fast · 480p")
    assert "start frame · end frame" in footer

    _, extended = await kit.follow(message, kit.button(message, "ext", "2"), user=fake.bob)
    extend, extended = await kit.wait_done(extended)
    footer = extended.embeds[0]["footer"]["text"]
    assert footer.startswith(f"Job {extend.id} · extend of job {video.id} · prompt: ")
    assert "· mode fast · 480p · clip 2" in footer


def test_a_long_prompt_is_shortened_to_keep_the_footer_within_discords_limit() -> None:
    prompt = "waves " * 333 + "--motion high"
    job = Job(
        id="abc123def4",
        kind=JobKind.VIDEO,
        action="generate",
        prompt=prompt,
        params=VideoGenerate(prompt, "https://img.example/s.png", loop=True).to_body(),
        status=JobStatus.SUCCEEDED,
        progress=100,
        created_at=1.0,
        updated_at=2.0,
        finished_at=2.0,
    )
    embed = render_job(job, owner_name="Bob", sandbox=True, allowance_text="3 of 5 jobs left today").embeds[0]
    footer = embed.footer.text or ""
    assert len(footer) <= FOOTER_LIMIT and len(embed) <= 6000
    assert footer.startswith("Job abc123def4 · /video · prompt: waves waves")
    assert "… · mode fast · 720p · loop · start frame · 3 of 5 jobs left today · Sandbox" in footer
