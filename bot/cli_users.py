"""``mjbot users block|unblock|list``: the bot owner blocks a user everywhere, in every server and in DMs.

The blocks live in the store the config names (``[store] path``), so a running bot sees them at the user's next
command or click. A blocked user is told the reason given here.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from typing import TextIO

from bot.cli_jobs import store_exists
from bot.cli_output import Column, error, print_table
from bot.config import Config, load_config
from bot.scopes import MAX_REASON_CHARS, block_everywhere, global_blocks, unblock_everywhere
from bot.settings import BlockEntry
from bot.store import Store
from bot.text import shorten

#: Discord ids are 64-bit snowflakes; the smallest real one has 17 digits, but any positive number is accepted.
MAX_SNOWFLAKE = 2**63 - 1
BLOCK_COLUMNS = (Column("USER", 20), Column("SINCE (UTC)", 16), Column("REASON", gap=2))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Register ``users`` and its subcommands on the main parser's subcommands."""
    users = sub.add_parser("users", parents=[common], help="block or unblock a user everywhere, or list the blocks")
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    block = actions.add_parser("block", parents=[common], help="refuse every command and click of a user")
    block.add_argument("user_id", metavar="USER_ID", help="the user's Discord id (Developer Mode: Copy User ID)")
    block.add_argument("--reason", default="", metavar="TEXT", help="shown to the user when they try")
    unblock = actions.add_parser("unblock", parents=[common], help="lift a block")
    unblock.add_argument("user_id", metavar="USER_ID", help="the user's Discord id")
    actions.add_parser("list", parents=[common], help="list the blocked users")


async def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run a ``users`` subcommand on the config's store; the exit code (2 for bad input)."""
    config = load_config(args.config, missing_ok=args.config is None)
    command = args.users_command
    user_id: int | None = None
    if command in ("block", "unblock"):
        user_id = parse_user_id(args.user_id)
        if user_id is None:
            error(
                err,
                f"USER_ID must be a Discord user id, a number like 123456789012345678, got {args.user_id!r}; "
                "copy it in Discord with Developer Mode on (right-click the user, Copy User ID)",
            )
            return 2
    if command == "block" and len(args.reason) > MAX_REASON_CHARS:
        error(err, f"--reason is {len(args.reason)} characters long; keep it to {MAX_REASON_CHARS}")
        return 2
    # Only a block writes (and may come before the bot's first start); the others read, and never make a store.
    if command != "block" and not store_exists(config, args, err):
        return 1
    return await _run_on_store(config, command, user_id, args, out)


def parse_user_id(text: str) -> int | None:
    """A Discord id from what was typed (``<@123>`` mentions are accepted too); None if it is not one."""
    cleaned = text.strip().removeprefix("<@").removeprefix("!").removesuffix(">")
    if not cleaned.isdigit() or not cleaned.isascii():
        return None
    value = int(cleaned)
    return value if 0 < value <= MAX_SNOWFLAKE else None


async def _run_on_store(
    config: Config, command: str, user_id: int | None, args: argparse.Namespace, out: TextIO
) -> int:
    store = await Store.open(config.store.location, read_only=command == "list")
    try:
        if command == "block" and user_id is not None:
            reason = args.reason.strip()
            earlier = await block_everywhere(store, user_id, reason, at=time.time())
            told = f"they are told: {reason}" if reason else "no reason given; they are told they are blocked"
            verb = "Still blocked" if earlier is not None else "Blocked"
            print(f"{verb} user {user_id} everywhere ({told}).", file=out)
            return 0
        if command == "unblock" and user_id is not None:
            lifted = await unblock_everywhere(store, user_id)
            if lifted is None:
                print(f"User {user_id} is not blocked; `mjbot users list` shows who is.", file=out)
                return 1
            print(f"Unblocked user {user_id}.", file=out)
            return 0
        return _print_blocks(await global_blocks(store), out)
    finally:
        await store.close()


def _print_blocks(blocks: dict[int, BlockEntry], out: TextIO) -> int:
    if not blocks:
        print("Nobody is blocked. Block a user with: mjbot users block USER_ID --reason TEXT", file=out)
        return 0
    rows = []
    for user_id, entry in sorted(blocks.items(), key=lambda item: item[0]):
        since = datetime.datetime.fromtimestamp(entry.at, datetime.UTC).strftime("%Y-%m-%d %H:%M") if entry.at else "-"
        rows.append((str(user_id), since, shorten(entry.reason, 80) or "(no reason given)"))
    print_table(out, BLOCK_COLUMNS, rows)
    return 0
