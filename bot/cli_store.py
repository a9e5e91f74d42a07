"""``mjbot store copy|check``: move a store to another database, and check that two stores hold the same data.

The main use is moving a bot's SQLite file into PostgreSQL before running several bots on it; a PostgreSQL
store copies back into a file the same way. ``check`` compares any two stores, table by table.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from bot.store.compare import TableComparison, compare
from bot.store.transfer import copy, shown

#: A table's progress is shown every this many rows (and when it is done).
PROGRESS_EVERY = 10_000

_COPY_HELP = (
    "Copy every table of a store into an empty store: an SQLite file into PostgreSQL (or back, or into another "
    "file). The copy is one transaction on the target: if it fails, the target stays empty. Stop the bots first: "
    "a bot running on an SQLite store makes the copy refuse, but bots on a PostgreSQL store cannot be seen, so "
    "stop every one of them before copying from it."
)
_CHECK_HELP = (
    "Check that two stores hold the same data: rows per table, and a digest of each table's rows (floating-point "
    "values exactly as stored, JSON as the JSON it holds, so SQLite and PostgreSQL compare alike). Names the first "
    "rows that differ. Exit 0 when the stores are the same, 1 when not."
)
_WHERE = "an SQLite file's path, or a postgresql:// URL"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``store`` and its subcommands on the main parser's subcommands."""
    store = sub.add_parser("store", help="copy the store to another database, or compare two stores")
    actions = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    copy_parser = actions.add_parser(
        "copy", help="copy a store into an empty one (SQLite to PostgreSQL, say)", description=_COPY_HELP
    )
    check = actions.add_parser("check", help="check that two stores hold the same data", description=_CHECK_HELP)
    for parser, source, target in (
        (copy_parser, "the store to copy", "the empty store to copy into (a new SQLite file is made)"),
        (check, "one store", "the other store"),
    ):
        parser.add_argument("--from", dest="source", required=True, metavar="PATH_OR_URL", help=f"{source}: {_WHERE}")
        parser.add_argument("--to", dest="target", required=True, metavar="PATH_OR_URL", help=f"{target}: {_WHERE}")


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run a ``store`` subcommand; the exit code (a refusal raises StoreError, which the CLI prints)."""
    out = sys.stdout if out is None else out
    if args.store_command == "copy":
        return await _copy(args.source, args.target, out)
    return await _check(args.source, args.target, out)


async def _copy(source: str, target: str, out: TextIO) -> int:
    print(f"Copying {shown(source)} into {shown(target)}", file=out, flush=True)

    def progress(table: str, done: int, total: int) -> None:
        if done == total:
            print(f"  {table:<15} {done:>12,} row{'' if done == 1 else 's'}", file=out, flush=True)
        elif done and done % PROGRESS_EVERY == 0:
            print(f"  {table:<15} {done:>12,} of {total:,}", file=out, flush=True)

    result = await copy(source, target, progress=progress)
    print(
        f"Copied {result.total:,} rows in {result.seconds:.1f} s. `mjbot store check` with the same --from and --to "
        "compares the two stores.",
        file=out,
    )
    return 0


async def _check(source: str, target: str, out: TextIO) -> int:
    print(f"Comparing {shown(source)} (--from) with {shown(target)} (--to)", file=out, flush=True)
    started = time.monotonic()
    tables = await compare(source, target)
    print(f"  {'TABLE':<15} {'--from':>12} {'--to':>12}  RESULT", file=out)
    for table in tables:
        _print_table(table, out)
    differing = [table.table for table in tables if not table.same]
    seconds = time.monotonic() - started
    if differing:
        print(f"The stores differ, in {', '.join(differing)} ({seconds:.1f} s).", file=out)
        return 1
    rows = sum(table.counts[0] for table in tables)
    print(f"The stores hold the same data: {rows:,} rows ({seconds:.1f} s).", file=out)
    return 0


def _print_table(table: TableComparison, out: TextIO) -> None:
    first, second = table.counts
    if table.same:
        result = f"same (digest {table.digests[0][:12]})"
    elif table.differing:
        result = f"DIFFERENT: {table.differing:,} row{'' if table.differing == 1 else 's'}"
    else:
        result = "DIFFERENT"
    print(f"  {table.table:<15} {first:>12,} {second:>12,}  {result}", file=out)
    for difference in table.differences:
        print(f"      {table.key} {difference.key}: {difference.what}", file=out)
    if table.differing > len(table.differences):
        print(f"      ... and {table.differing - len(table.differences):,} more", file=out)
    if table.order is not None:
        print(f"      {table.table} were {table.order}", file=out)
