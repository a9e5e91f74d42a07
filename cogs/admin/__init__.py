"""/admin: the server's settings for the bot, its running jobs and its statistics, for moderators only."""

from __future__ import annotations

from .access import is_moderator
from .cog import AdminCog

__all__ = ["AdminCog", "is_moderator"]
