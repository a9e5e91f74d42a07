"""The job engine: submit, track (batched polling and callbacks), resume after a restart, and announce."""

from .engine import EngineHealth, JobEngine, JobNotFoundError
from .events import JobEvent, JobEventType

__all__ = ["EngineHealth", "JobEngine", "JobEvent", "JobEventType", "JobNotFoundError"]
