"""``mjbot users``: the bot owner blocks a user everywhere from the command line, and a running bot refuses them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from member_kit import MemberKit

pytest_plugins = ("discord_kit", "member_kit")


async def mjbot(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run the CLI in a process of its own; its exit code, standard output and standard error."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return int(process.returncode or 0), out.decode(), err.decode()


async def test_a_user_blocked_from_the_command_line_is_refused_everywhere(member: MemberKit, tmp_path: Path) -> None:
    fake = member.fake
    config = tmp_path / "owner.toml"
    config.write_text(f'[store]\npath = "{Path(member.config.store.path).as_posix()}"\n', encoding="utf-8")
    _, message = await member.make_grid(user=fake.bob)

    code, out, err = await mjbot(
        "users", "block", str(fake.bob.id), "--reason", "abusing the bot", "--config", str(config), cwd=tmp_path
    )
    assert code == 0, err
    assert f"Blocked user {fake.bob.id} everywhere" in out
    code, out, _ = await mjbot("users", "list", "--config", str(config), cwd=tmp_path)
    assert code == 0 and str(fake.bob.id) in out and "abusing the bot" in out

    start = fake.upload("start.png", member.PNG)
    video = await fake.slash("video", {"prompt": "a kite", "image_url": start.url, "resolution": "480p"}, user=fake.bob)
    text = await member.refusal(video)
    assert "operator blocked you" in text and "abusing the bot" in text
    in_dms = await fake.slash("imagine", {"prompt": "a kite"}, user=fake.bob, dm=True)
    assert "abusing the bot" in await member.refusal(in_dms)
    click = await fake.click(message, member.button(message, "img", "upscale1"), user=fake.bob)
    assert "abusing the bot" in await member.refusal(click)
    await member.audited("/video", "abusing the bot")
    assert member.task_count() == 1
    alice = await fake.slash("imagine", {"prompt": "a kite"}, user=fake.alice)  # nobody else is affected
    await member.wait_done(await member.job_message(alice))

    code, out, err = await mjbot("users", "unblock", str(fake.bob.id), "--config", str(config), cwd=tmp_path)
    assert code == 0, err
    assert f"Unblocked user {fake.bob.id}" in out
    again = await fake.slash("imagine", {"prompt": "a kite"}, user=fake.bob)
    await member.wait_done(await member.job_message(again))
    code, out, _ = await mjbot("users", "list", "--config", str(config), cwd=tmp_path)
    assert code == 0 and "Nobody is blocked" in out


async def test_bad_input_is_named(tmp_path: Path) -> None:
    config = tmp_path / "owner.toml"
    config.write_text(f'[store]\npath = "{(tmp_path / "store.sqlite3").as_posix()}"\n', encoding="utf-8")
    code, _, err = await mjbot("users", "block", "bob", "--config", str(config), cwd=tmp_path)
    assert code == 2 and "USER_ID must be a Discord user id" in err and "'bob'" in err
    code, _, err = await mjbot("users", "block", "42", "--reason", "x" * 301, "--config", str(config), cwd=tmp_path)
    assert code == 2 and "keep it to 300" in err
    code, _, err = await mjbot("users", "unblock", "42", "--config", str(config), cwd=tmp_path)
    assert code == 1 and "there is no store at" in err  # nothing was blocked there, and no store is made
    assert not (tmp_path / "store.sqlite3").exists()
