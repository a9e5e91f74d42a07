"""Job messages in Discord: live progress, then the result, delivered even across restarts and expired tokens."""

from .cog import Delivery

__all__ = ["Delivery"]
