"""What a job costs in "units", the currency of a server's daily budget.

Ace Data Cloud charges per task in credits that vary with the plan, so a server's budget is counted
in units of its own, kept deliberately simple so moderators can reason about them:

* an image job (a grid, an upscale, a variation, a reroll, a zoom, a pan...): 1 unit;
* a video job (generate or extend, four clips): 8 units;
* turbo mode doubles either.

Resolution does not change the figure (a server that wants to save on 720p can turn it off).
The usage ledger records these units for every job the API accepted; quotas add them up per UTC day.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bot.acedata.models import ApiRequest, Endpoint

IMAGE_UNITS: Final = 1.0
VIDEO_UNITS: Final = 8.0
TURBO_FACTOR: Final = 2.0
#: A server's default for asking members to confirm a job first (``Limits.confirm_over``): a turbo video (16)
#: asks, a fast one (8) and any image job do not.
CONFIRM_OVER_UNITS: Final[float | None] = VIDEO_UNITS * TURBO_FACTOR


def cost(request: ApiRequest) -> float:
    """The units ``request`` costs once the API accepts it."""
    return _units(request.endpoint is Endpoint.VIDEOS, request.mode)


def cost_of(kind: str, params: Mapping[str, Any]) -> float:
    """The units of a stored job, from its kind ("video" or "imagine") and its request body."""
    return _units(kind == "video", params.get("mode"))


def _units(video: bool, mode: object) -> float:
    units = VIDEO_UNITS if video else IMAGE_UNITS
    return units * TURBO_FACTOR if mode == "turbo" else units
