"""The SQLite job store: every SQL statement of the bot lives in this package."""

from .database import JobNotFoundError, StoreError
from .db import Store
from .lifecycle import FinishItem
from .models import (
    UNFINISHED_STATUSES,
    Job,
    JobKind,
    JobResult,
    JobStatus,
    MessageLink,
    NewJob,
    SavedProgress,
    UsageEntry,
)
from .stats import DayCount, FailureReason, GuildStats, JobTally, UserStats

__all__ = [
    "UNFINISHED_STATUSES",
    "DayCount",
    "FailureReason",
    "FinishItem",
    "GuildStats",
    "Job",
    "JobKind",
    "JobNotFoundError",
    "JobResult",
    "JobStatus",
    "JobTally",
    "MessageLink",
    "NewJob",
    "SavedProgress",
    "Store",
    "StoreError",
    "UsageEntry",
    "UserStats",
]
