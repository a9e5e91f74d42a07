"""Whether two stores hold the same data: rows per table, a digest per table, and the first rows that differ.

Rows are compared as Python values, so the database under each store does not matter: numbers as they are stored
(floating-point times exactly, bit for bit), JSON text as the JSON it holds (key order and spacing aside). Each
row is named by its primary key; the digest of a table covers its rows in key order. Jobs are also compared in
the order they were written, which breaks ties between equal creation times.
"""

# The statements are put together from the constant table and column names of ``transfer.TABLES``; every value
# goes through a placeholder.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Final

from .codec import Row
from .connection import Database
from .store import Store
from .transfer import JOBS, TABLES, Table, open_existing, read_batches

#: How many differing rows a report names per table.
SHOWN: Final = 5

_dump = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=repr).encode


@dataclass(frozen=True, slots=True)
class Difference:
    """One row that is not the same in both stores: its key, and how it differs."""

    key: Any
    #: "only in --from", "only in --to", or the columns whose values differ.
    what: str


@dataclass(frozen=True, slots=True)
class TableComparison:
    """One table in both stores."""

    table: str
    #: The primary key's column, which names a row.
    key: str
    counts: tuple[int, int]
    digests: tuple[str, str]
    #: How many rows differ (missing on one side, or changed).
    differing: int = 0
    #: The first few of them, in key order.
    differences: tuple[Difference, ...] = ()
    #: Where rows were written in another order (jobs only), else None.
    order: str | None = None

    @property
    def same(self) -> bool:
        return self.digests[0] == self.digests[1] and not self.differing and self.order is None


@dataclass(slots=True)
class _Side:
    """What one store holds in one table: a digest of each row by key, and the keys in the order written."""

    rows: dict[Any, bytes] = field(default_factory=dict)
    written: list[Any] = field(default_factory=list)

    def digest(self) -> str:
        whole = hashlib.blake2b(digest_size=16)
        for key in sorted(self.rows):
            whole.update(_dump(key).encode())
            whole.update(self.rows[key])
        return whole.hexdigest()


def normalise(table: Table, row: Row) -> list[Any]:
    """A row of ``table.columns`` as plain Python values that read the same from either database."""
    values: list[Any] = []
    for column, value in zip(table.columns, row, strict=True):
        if value is None:
            values.append(None)
        elif column in table.json_columns:
            try:
                values.append({"json": json.loads(value)})
            except (TypeError, ValueError):
                values.append({"text": value})  # not JSON: compared as the text it is
        elif column in table.float_columns:
            values.append(float(value))
        else:
            values.append(value)
    return values


def _row_digest(table: Table, row: Row) -> bytes:
    return hashlib.blake2b(_dump(normalise(table, row)).encode(), digest_size=16).digest()


async def _read(db: Database, table: Table) -> _Side:
    side = _Side()
    key = table.columns.index(table.key)
    async for rows in read_batches(db, table):
        for row in rows:
            values = row[1:]
            side.rows[values[key]] = _row_digest(table, values)
            side.written.append(values[key])
    return side


async def compare(first: str, second: str) -> list[TableComparison]:
    """Compare the stores at ``first`` (``--from``) and ``second`` (``--to``), which must both exist; differences
    are told by those flags."""
    a = await open_existing(first, "--from")
    try:
        b = await open_existing(second, "--to")
        try:
            return await compare_stores(a, b)
        finally:
            await b.close()
    finally:
        await a.close()


async def compare_stores(first: Store, second: Store) -> list[TableComparison]:
    """Every table of the two stores, compared."""
    return [await compare_table(first.database, second.database, table) for table in TABLES]


async def compare_table(first: Database, second: Database, table: Table) -> TableComparison:
    a, b = await asyncio.gather(_read(first, table), _read(second, table))
    only_a = a.rows.keys() - b.rows.keys()
    only_b = b.rows.keys() - a.rows.keys()
    changed = {key for key in a.rows.keys() & b.rows.keys() if a.rows[key] != b.rows[key]}
    differing = sorted(only_a | only_b | changed)
    shown: list[Difference] = []
    for key in differing[:SHOWN]:
        if key in only_a:
            shown.append(Difference(key, "only in --from"))
        elif key in only_b:
            shown.append(Difference(key, "only in --to"))
        else:
            columns = await _changed_columns(first, second, table, key)
            shown.append(Difference(key, f"differs in {', '.join(columns) or 'its values'}"))
    return TableComparison(
        table.name,
        table.key,
        (len(a.rows), len(b.rows)),
        (a.digest(), b.digest()),
        len(differing),
        tuple(shown),
        _order(a, b) if table is JOBS else None,
    )


async def _changed_columns(first: Database, second: Database, table: Table, key: Any) -> list[str]:
    sql = f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {table.key} = ?"
    rows = await asyncio.gather(first.fetch(sql, (key,)), second.fetch(sql, (key,)))
    if not rows[0] or not rows[1]:
        return []  # changed while being compared
    a, b = normalise(table, rows[0][0]), normalise(table, rows[1][0])
    return [column for column, x, y in zip(table.columns, a, b, strict=True) if _dump(x) != _dump(y)]


def _order(a: _Side, b: _Side) -> str | None:
    """Where the rows both stores hold were written in another order, or None."""
    common = a.rows.keys() & b.rows.keys()
    first = [key for key in a.written if key in common]
    second = [key for key in b.written if key in common]
    for position, (x, y) in enumerate(zip(first, second, strict=True), start=1):
        if x != y:
            return f"written in another order: number {position} is {x} in --from, {y} in --to"
    return None
