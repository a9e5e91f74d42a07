"""A faithful loopback emulator of the Ace Data Cloud Midjourney API.

Used as a test fixture and as a sandbox in which the bot runs without spending credits.
"""

from .faults import Fault
from .server import Emulator, serve_forever
from .settings import EmulatorSettings, RecordedRequest
from .tasks import CallbackDelivery, TaskView

__all__ = [
    "CallbackDelivery",
    "Emulator",
    "EmulatorSettings",
    "Fault",
    "RecordedRequest",
    "TaskView",
    "serve_forever",
]
