"""The job store: jobs, the Discord messages that show them, settings and the usage ledger.

``Store`` is put together from one class per part of the schema, each over the connection in ``database``:
job rows (``jobs``), their status changes (``lifecycle``), the queue (``queue``), message links (``links``),
settings (``settings``), the usage ledger (``usage``) and server statistics (``stats``).
"""

from __future__ import annotations

from .lifecycle import FinishItem, JobLifecycle
from .links import MessageLinks
from .queue import QueueQueries
from .settings import SettingsQueries
from .stats import StatsQueries
from .usage import UsageLedger

__all__ = ["FinishItem", "Store"]


class Store(JobLifecycle, QueueQueries, MessageLinks, SettingsQueries, UsageLedger, StatsQueries):
    """Jobs, the Discord messages that show them, settings and the usage ledger, in one SQLite file.

    Open with ``await Store.open(path)``; every method commits before it returns.
    """
