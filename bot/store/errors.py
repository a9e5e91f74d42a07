"""What the store raises, the same whichever database is under it."""

from __future__ import annotations

from typing import Final, Literal

Constraint = Literal["primary key", "foreign key", "unique", "other"]

CONSTRAINTS: Final[tuple[Constraint, ...]] = ("primary key", "foreign key", "unique", "other")


class StoreError(Exception):
    """The database cannot be used: wrong file, newer schema, failed upgrade, closed store, database error."""


class OutdatedStoreError(StoreError):
    """A store opened only to read has an older schema than this version reads; opened to write, it is upgraded."""


class JobNotFoundError(StoreError, LookupError):
    """A method that changes a job (or links to one) was given an id that is not in the store."""


class ConstraintError(StoreError):
    """A write broke one of the schema's rules; ``constraint`` says which kind, for the repository to explain."""

    def __init__(self, constraint: Constraint, detail: str) -> None:
        super().__init__(f"{constraint} constraint failed: {detail}")
        self.constraint: Constraint = constraint
        self.detail = detail


class AlreadyChainedError(StoreError):
    """A job would carry out a chain (``meta.chained_from``) that another job carries out already."""
