"""/imagine: a grid with U1-U4, V1-V4 and reroll, in the speed asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)


async def test_imagine_makes_a_grid_with_upscale_variation_and_reroll_buttons(kit: Kit) -> None:
    fake = kit.fake
    handle = await fake.slash("imagine", {"prompt": "a lighthouse at dawn --ar 16:9"}, user=fake.bob)
    assert await handle.wait_for_response() == 5
    assert not handle.ephemeral
    message = await kit.job_message(handle)
    job, message = await kit.wait_done(message)
    assert kit.labels(message)[:8] == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4"]
    assert kit.button(message, "img", "reroll")
    [body] = kit.submits("imagine")
    assert (body["action"], body["prompt"], body["mode"]) == ("generate", "a lighthouse at dawn --ar 16:9", "fast")
    assert job.user_id == fake.bob.id and job.channel_id == fake.general.id and job.guild_id == fake.guild.id
    assert message.attachments and message.attachments[0]["filename"].endswith(".png")


async def test_imagine_in_relax_mode(kit: Kit) -> None:
    command = kit.fake.command("imagine")
    [mode] = [option for option in command["options"] if option["name"] == "mode"]
    assert [choice["value"] for choice in mode["choices"]] == ["fast", "relax", "turbo"]
    handle = await kit.fake.slash("imagine", {"prompt": "a quiet harbour", "mode": "relax"})
    await kit.wait_done(await kit.job_message(handle))
    assert kit.submits("imagine")[0]["mode"] == "relax"


async def test_imagine_refuses_a_blank_prompt_for_free(kit: Kit) -> None:
    handle = await kit.fake.slash("imagine", {"prompt": "  \n "})
    assert await handle.wait_for_response() == 4
    assert "The prompt is empty" in await kit.reply_text(handle)
    assert kit.public_messages(handle) == []
    assert kit.task_count() == 0


async def test_imagine_in_a_direct_message(kit: Kit) -> None:
    fake = kit.fake
    handle = await fake.slash("imagine", {"prompt": "a paper crane"}, user=fake.bob, dm=True)
    grid, message = await kit.wait_done(await kit.job_message(handle))
    assert grid.guild_id is None and message.channel_id == fake.dm_channel(fake.bob).id
    _, upscale_message = await kit.follow(message, kit.button(message, "img", "upscale1"), user=fake.bob)
    upscale, _ = await kit.wait_done(upscale_message)
    assert upscale.parent_id == grid.id and upscale.guild_id is None
