"""mjbot: Midjourney videos and images in Discord, through the Ace Data Cloud API."""

__version__ = "0.1.0"
