"""The job engine: submit, track (batched polling and callbacks), resume after a restart, and announce."""

from bot.store import JobNotFoundError

from .chains import ChainRunner
from .engine import JobEngine
from .events import JobEvent, JobEventType
from .health import EngineHealth
from .queue import QueueRunner

__all__ = [
    "ChainRunner",
    "EngineHealth",
    "JobEngine",
    "JobEvent",
    "JobEventType",
    "JobNotFoundError",
    "QueueRunner",
]
