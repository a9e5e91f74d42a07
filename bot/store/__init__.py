"""The SQLite job store: every SQL statement of the bot lives in this package."""

from .database import JobNotFoundError, StoreError
from .db import Store
from .lifecycle import FinishItem
from .meta import EMPTY_META, DeliveryState, FrameSource, JobMeta, QueueState, VideoOptions
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
    "EMPTY_META",
    "UNFINISHED_STATUSES",
    "DayCount",
    "DeliveryState",
    "FailureReason",
    "FinishItem",
    "FrameSource",
    "GuildStats",
    "Job",
    "JobKind",
    "JobMeta",
    "JobNotFoundError",
    "JobResult",
    "JobStatus",
    "JobTally",
    "MessageLink",
    "NewJob",
    "QueueState",
    "SavedProgress",
    "Store",
    "StoreError",
    "UsageEntry",
    "UserStats",
    "VideoOptions",
]
