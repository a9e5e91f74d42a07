"""``/_emulator/*``: drive a running emulator from another process (loopback callers only)."""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import Emulator

log = logging.getLogger(__name__)

_FAULT_FIELDS = {
    "status": (int, type(None)),
    "path": (str, type(None)),
    "count": (int,),
    "retry_after": (int, float, type(None)),
    "delay_s": (int, float),
    "drop": (bool,),
    "code": (str, type(None)),
    "message": (str, type(None)),
}


class AdminHandlers:
    """Faults, forced endings and a state summary, for tests and demos of an out-of-process emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/_emulator/faults", self.add_fault)
        app.router.add_delete("/_emulator/faults", self.clear_faults)
        app.router.add_post("/_emulator/tasks/{task_id}/finish", self.finish)
        app.router.add_get("/_emulator/state", self.state)

    async def add_fault(self, request: web.Request) -> web.Response:
        _loopback_only(request)
        args = await _json_object(request)
        for key, value in args.items():
            kinds = _FAULT_FIELDS.get(key)
            if kinds is None:
                raise _bad(f"unknown fault field '{key}'")
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise _bad(f"fault field '{key}' has the wrong type")
        try:
            fault = self._emulator.inject_fault(**args)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        return web.json_response(fault.to_json())

    async def clear_faults(self, request: web.Request) -> web.Response:
        _loopback_only(request)
        self._emulator.clear_faults()
        return web.json_response({"cleared": True})

    async def finish(self, request: web.Request) -> web.Response:
        _loopback_only(request)
        args = await _json_object(request, empty_ok=True)
        task_id = request.match_info["task_id"]
        success = args.get("success", True)
        code = args.get("error_code", "api_error")
        message = args.get("error_message", "The job failed to render, please retry")
        if not isinstance(success, bool) or not isinstance(code, str) or not isinstance(message, str):
            raise _bad("success must be a boolean; error_code and error_message strings")
        try:
            self._emulator.finish(task_id, success=success, error_code=code, error_message=message)
        except KeyError:
            raise web.HTTPNotFound(text=f"no task {task_id}") from None
        view = self._emulator.task(task_id)
        if view is None:
            raise web.HTTPNotFound(text=f"no task {task_id}")
        return web.json_response({"id": view.id, "status": view.status.value, "finished_at": view.finished_at})

    async def state(self, request: web.Request) -> web.Response:
        _loopback_only(request)
        return web.json_response(self._emulator.state())


def _loopback_only(request: web.Request) -> None:
    remote = request.remote or ""
    try:
        loopback = ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        log.warning("emulator: refused an admin request from %s", remote or "an unknown address")
        raise web.HTTPForbidden(text="the emulator's admin routes answer loopback callers only")


async def _json_object(request: web.Request, *, empty_ok: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw and empty_ok:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise _bad("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise _bad("the body must be a JSON object")
    return data


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=message)
