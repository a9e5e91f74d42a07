"""The job store: every SQL statement of the bot lives in this package."""

from .errors import AlreadyChainedError, ConstraintError, JobNotFoundError, OutdatedStoreError, StoreError
from .meta import EMPTY_META, DeliveryState, FrameSource, JobMeta, QueueState, VideoOptions
from .models import (
    UNFINISHED_STATUSES,
    FinishItem,
    Job,
    JobKind,
    JobResult,
    JobStatus,
    Lease,
    MessageLink,
    NewJob,
    SavedProgress,
    UsageEntry,
)
from .stats import DayCount, FailureReason, GuildStats, JobTally, UserStats
from .store import Store

__all__ = [
    "EMPTY_META",
    "UNFINISHED_STATUSES",
    "AlreadyChainedError",
    "ConstraintError",
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
    "Lease",
    "MessageLink",
    "NewJob",
    "OutdatedStoreError",
    "QueueState",
    "SavedProgress",
    "Store",
    "StoreError",
    "UsageEntry",
    "UserStats",
    "VideoOptions",
]
