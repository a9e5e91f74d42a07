"""The emulator's media host: result pictures (PNG) and clips (MP4), no auth, HEAD supported.

A link must carry a good signature that has not expired (see ``signing``): 404 for media that does not
exist, 403 for a link that is unsigned, altered or expired.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from .engine import Engine
from .media import Picture, PictureCache, free_box_header, load_clips, padding_box_size, palette
from .signing import LinkRefused

log = logging.getLogger(__name__)

_ZEROS = bytes(64 * 1024)
_SAMPLE_NAME = re.compile(r"[a-z0-9-]{1,32}")
#: Width and height of a sample picture.
SAMPLE_SIDE = 512


class MediaHandlers:
    """``GET /media/images/{task_id}/{name}`` and ``GET /media/videos/{task_id}/{name}``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pictures = PictureCache()
        self._clips = load_clips()

    async def image(self, request: web.Request) -> web.StreamResponse:
        return await self._picture(request)

    async def sample(self, request: web.Request) -> web.StreamResponse:
        """``GET /samples/{name}.png``: a picture to animate in sandbox mode, the same for the same name."""
        name = request.match_info["name"]
        if not _SAMPLE_NAME.fullmatch(name):
            raise web.HTTPNotFound(text="a sample's name is 1 to 32 lower-case letters, digits and dashes")
        data = self._pictures.get(f"sample/{name}", Picture(palette(name, 1), SAMPLE_SIDE, SAMPLE_SIDE))
        return web.Response(body=data, content_type="image/png")

    async def video(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name.endswith(".png"):
            return await self._picture(request)
        task = await self._engine.recall(request.match_info["task_id"])
        clip_index = None if task is None else task.clip_for(name)
        if clip_index is None:
            raise web.HTTPNotFound(text="no such clip")
        self._check_link(request)
        clip = self._clips[clip_index]
        box = padding_box_size(self._engine.settings.clip_padding_bytes)
        if not box:
            return web.Response(body=clip, content_type="video/mp4")
        return await self._padded(request, clip, box)

    async def _picture(self, request: web.Request) -> web.Response:
        task_id, name = request.match_info["task_id"], request.match_info["name"]
        task = await self._engine.recall(task_id)
        picture = None if task is None else task.picture(name)
        if picture is None:
            raise web.HTTPNotFound(text="no such image")
        self._check_link(request)
        data = self._pictures.get(f"{task_id}/{name}", picture)
        return web.Response(body=data, content_type="image/png")

    def _check_link(self, request: web.Request) -> None:
        try:
            self._engine.signer.check(request.path, request.query)
        except LinkRefused as refused:
            raise web.HTTPForbidden(text=refused.reason) from None

    async def _padded(self, request: web.Request, clip: bytes, box: int) -> web.StreamResponse:
        """The clip followed by a ``free`` box of ``box`` bytes, streamed so a large pad costs no memory."""
        response = web.StreamResponse(headers={"content-type": "video/mp4"})
        response.content_length = len(clip) + box
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        header = free_box_header(box)
        await response.write(clip + header)
        left = box - len(header)
        while left > 0:
            chunk = _ZEROS if left >= len(_ZEROS) else _ZEROS[:left]
            await response.write(chunk)
            left -= len(chunk)
        await response.write_eof()
        return response
