"""Stored request bodies read back as the typed requests that made them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from .models import (
    IMAGINE_MODES,
    RESOLUTIONS,
    VIDEO_MODES,
    ApiRequest,
    Endpoint,
    ImagineAction,
    ImagineGenerate,
    ImagineMode,
    Resolution,
    VideoExtend,
    VideoGenerate,
    VideoMode,
)


def request_from_body(endpoint: Endpoint, body: Mapping[str, Any]) -> ApiRequest | None:
    """The typed request whose ``to_body()`` is exactly ``body`` (sent to ``endpoint``); None if there is none.

    Exact, not lenient: a stored job is sent again (and matched against the API's records) by this request,
    so a body that it would not reproduce key for key is no request of this client.
    """
    action = body.get("action")
    request: ApiRequest
    try:
        if endpoint is Endpoint.VIDEOS and action == "generate":
            request = VideoGenerate(
                prompt=_required_str(body, "prompt"),
                image_url=_required_str(body, "image_url"),
                end_image_url=_optional_str(body.get("end_image_url")),
                loop=body.get("loop", False) is True,
                mode=_choice(body.get("mode", "fast"), VIDEO_MODES),
                resolution=_choice(body.get("resolution", "720p"), RESOLUTIONS),
            )
        elif endpoint is Endpoint.VIDEOS and action == "extend":
            index = body.get("video_index")
            if type(index) is not int:
                raise ValueError(f"video_index is not a number: {index!r}")
            resolution = body.get("resolution")
            request = VideoExtend(
                video_id=_required_str(body, "video_id"),
                video_index=index,
                prompt=_optional_str(body.get("prompt")),
                mode=_choice(body.get("mode", "fast"), VIDEO_MODES),
                resolution=None if resolution is None else _choice(resolution, RESOLUTIONS),
                end_image_url=_optional_str(body.get("end_image_url")),
            )
        elif endpoint is Endpoint.IMAGINE and action == "generate":
            request = ImagineGenerate(
                prompt=_required_str(body, "prompt"),
                mode=_choice(body.get("mode", "fast"), IMAGINE_MODES),
                translation=body.get("translation", False) is True,
                split_images=body.get("split_images", False) is True,
            )
        elif endpoint is Endpoint.IMAGINE and isinstance(action, str) and action:
            request = ImagineAction(
                action_name=action,
                image_id=_required_str(body, "image_id"),
                prompt=_optional_str(body.get("prompt")),
                mode=_choice(body.get("mode", "fast"), IMAGINE_MODES),
            )
        else:
            return None
    except ValueError:
        return None
    return request if request.to_body() == body else None


_Option = TypeVar("_Option", VideoMode, ImagineMode, Resolution)


def _choice(value: object, allowed: tuple[_Option, ...]) -> _Option:
    for option in allowed:
        if value == option:
            return option
    raise ValueError(f"not one of {allowed}: {value!r}")


def _required_str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} is not text: {value!r}")
    return value


def _optional_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"not text: {value!r}")
