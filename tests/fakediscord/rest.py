"""The REST API under /api/v10, the file server under /attachments, and the request recorder around them."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web
from aiohttp.web_urldispatcher import SystemRoute

from .interactions import ACK_DEADLINE, InteractionHandle
from .model import FLAG_EPHEMERAL, FLAG_LOADING, FakeChannel, FakeGuild, FakeMessage
from .payloads import (
    APPLICATION_COMMAND,
    APPLICATION_COMMAND_AUTOCOMPLETE,
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_UPDATE_MESSAGE,
    INTENT_DIRECT_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGE_REACTIONS,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    PING,
    PONG,
    UPDATE_MESSAGE,
    application_payload,
    channel_payload,
    client_user_payload,
    emoji_key,
    guild_payload,
    member_payload,
    role_payload,
    user_payload,
)
from .permissions import Permission, channel_permissions
from .recorder import RecordedRequest, UploadedFile
from .validation import ApiError, FormErrors, check_command, check_commands, check_modal

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
#: Large enough for uploads past the attachment size limits, so the fake (not aiohttp) answers 413.
MAX_REQUEST_SIZE = 256 * 1024 * 1024
#: Links one ``POST /attachments/refresh-urls`` may name.
REFRESH_LIMIT = 50

#: Callback types each interaction type may answer with.
_ALLOWED_CALLBACKS = {
    PING: {PONG},
    APPLICATION_COMMAND: {CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, MODAL},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE_WITH_SOURCE,
        DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
        MODAL,
    },
    APPLICATION_COMMAND_AUTOCOMPLETE: {APPLICATION_COMMAND_AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CHANNEL_MESSAGE_WITH_SOURCE,
        DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
    },
}

_RECORDED_HEADERS = ("Authorization", "User-Agent", "Content-Type", "X-Audit-Log-Reason")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Body:
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)

    @property
    def object(self) -> dict[str, Any]:
        if self.json is None:
            return {}
        if not isinstance(self.json, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        return self.json


BODY = web.RequestKey("body", Body)


def json_response(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py treats "application/json; charset=utf-8" as text.
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def no_content() -> web.Response:
    return web.Response(status=204)


async def _read_body(request: web.Request) -> Body:
    if request.method in ("GET", "HEAD") or not request.body_exists:
        return Body()
    if request.content_type == "multipart/form-data":
        body = Body()
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            data = await part.read(decode=False)
            if name == "payload_json":
                body.json = json.loads(bytes(data).decode())
            elif part.filename is not None or name.startswith("files["):
                content_type = part.headers.get("Content-Type")
                body.files.append(UploadedFile(name, part.filename or name, content_type, bytes(data)))
        return body
    raw = await request.read()
    if not raw:
        return Body()
    try:
        return Body(json=json.loads(raw))
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


class RestApi:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    # -- plumbing -------------------------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fake = self.fake
        if request.path.startswith("/gateway"):
            return await handler(request)
        started = fake.now()
        body = Body()
        route: str | None = None
        match = request.match_info
        try:
            body = await _read_body(request)
            request[BODY] = body
            if isinstance(match.route, SystemRoute):
                fake.unknown_routes.append(f"{request.method} {_api_path(request.path)}")
                raise ApiError(404, 0, "404: Not Found")
            route = _api_path(match.route.resource.canonical) if match.route.resource is not None else None
            response = await handler(request)
        except ApiError as error:
            response = json_response(error.body(), error.status)
        except Exception as error:
            # A bug in the fake: answer 400 (a 5xx would make discord.py retry for 25 s) and keep it for teardown.
            log.exception("fake Discord failed on %s %s", request.method, request.path)
            fake.server_errors.append(f"{request.method} {request.path}: {error!r}")
            response = json_response({"message": f"fake server error: {error!r}", "code": 0}, 400)
        recorded = RecordedRequest(
            index=len(fake.recorder),
            method=request.method,
            path=_api_path(request.path),
            route=route,
            query=dict(request.query),
            headers={k: request.headers[k] for k in _RECORDED_HEADERS if k in request.headers},
            json=body.json,
            files=body.files,
            status=response.status,
            response=_response_json(response),
            time=started,
        )
        fake.recorder.add(recorded)
        fake.notify()
        return response

    def routes(self) -> list[web.RouteDef]:
        p = API_PREFIX
        return [
            web.get(f"{p}/users/@me", self.get_me),
            web.get(f"{p}/users/{{user_id}}", self.get_user),
            web.post(f"{p}/users/@me/channels", self.create_dm),
            web.get(f"{p}/oauth2/applications/@me", self.get_application),
            web.get(f"{p}/applications/@me", self.get_application),
            web.get(f"{p}/gateway", self.get_gateway),
            web.get(f"{p}/gateway/bot", self.get_gateway_bot),
            # application commands, global and per guild
            web.get(f"{p}/applications/{{app_id}}/commands", self.list_commands),
            web.put(f"{p}/applications/{{app_id}}/commands", self.overwrite_commands),
            web.post(f"{p}/applications/{{app_id}}/commands", self.upsert_command),
            web.get(f"{p}/applications/{{app_id}}/commands/{{command_id}}", self.get_command),
            web.patch(f"{p}/applications/{{app_id}}/commands/{{command_id}}", self.edit_command),
            web.delete(f"{p}/applications/{{app_id}}/commands/{{command_id}}", self.delete_command),
            web.get(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.list_commands),
            web.put(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.overwrite_commands),
            web.post(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.upsert_command),
            web.get(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands/{{command_id}}", self.get_command),
            web.patch(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands/{{command_id}}", self.edit_command),
            web.delete(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands/{{command_id}}", self.delete_command),
            # interactions
            web.post(f"{p}/interactions/{{interaction_id}}/{{token}}/callback", self.interaction_callback),
            web.post(f"{p}/webhooks/{{app_id}}/{{token}}", self.create_followup),
            web.get(f"{p}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self.get_webhook_message),
            web.patch(f"{p}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self.edit_webhook_message),
            web.delete(f"{p}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self.delete_webhook_message),
            # channels and messages
            web.get(f"{p}/channels/{{channel_id}}", self.get_channel),
            web.get(f"{p}/channels/{{channel_id}}/messages", self.list_messages),
            web.post(f"{p}/channels/{{channel_id}}/messages", self.create_message),
            web.post(f"{p}/channels/{{channel_id}}/messages/bulk-delete", self.bulk_delete),
            web.get(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.get_message),
            web.patch(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.edit_message),
            web.delete(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.delete_message),
            web.post(f"{p}/channels/{{channel_id}}/typing", self.typing),
            web.put(f"{p}/channels/{{channel_id}}/messages/{{message_id}}/reactions/{{emoji}}/@me", self.add_reaction),
            web.delete(
                f"{p}/channels/{{channel_id}}/messages/{{message_id}}/reactions/{{emoji}}/{{user}}",
                self.remove_reaction,
            ),
            web.get(f"{p}/channels/{{channel_id}}/messages/{{message_id}}/reactions/{{emoji}}", self.reaction_users),
            web.delete(
                f"{p}/channels/{{channel_id}}/messages/{{message_id}}/reactions/{{emoji}}", self.clear_reactions
            ),
            web.delete(f"{p}/channels/{{channel_id}}/messages/{{message_id}}/reactions", self.clear_reactions),
            # guilds
            web.get(f"{p}/guilds/{{guild_id}}", self.get_guild),
            web.get(f"{p}/guilds/{{guild_id}}/channels", self.get_guild_channels),
            web.get(f"{p}/guilds/{{guild_id}}/roles", self.get_guild_roles),
            web.get(f"{p}/guilds/{{guild_id}}/members", self.list_members),
            web.get(f"{p}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member),
            # files
            web.post(f"{p}/attachments/refresh-urls", self.refresh_urls),
            web.get("/attachments/{attachment_id}/{filename}", self.get_attachment),
        ]

    def _require_bot_auth(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        required = self.fake.required_token
        if not header.startswith("Bot ") or (required is not None and header != f"Bot {required}"):
            raise ApiError(401, 0, "401: Unauthorized")

    # -- users, application, gateway ------------------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        self._require_bot_auth(request)
        return json_response(client_user_payload(self.fake.bot_user))

    async def get_user(self, request: web.Request) -> web.Response:
        self._require_bot_auth(request)
        user = self.fake.users.get(_int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user_payload(user))

    async def create_dm(self, request: web.Request) -> web.Response:
        self._require_bot_auth(request)
        recipient = request[BODY].object.get("recipient_id")
        user = self.fake.users.get(_int(recipient))
        if user is None:
            raise ApiError(400, 50035, "Invalid Form Body", _field_error("recipient_id", "Unknown user"))
        channel = self.fake.dm_channel(user)
        return json_response(channel_payload(channel, recipients=[user]))

    async def get_application(self, request: web.Request) -> web.Response:
        self._require_bot_auth(request)
        return json_response(application_payload(self.fake.application))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        self._require_bot_auth(request)
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.fake.gateway_url, "shards": self.fake.shards, "session_start_limit": limit})

    # -- application commands -------------------------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        self._require_bot_auth(request)
        if _int(request.match_info["app_id"]) != self.fake.application.id:
            raise ApiError(403, 50001, "Missing Access")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return None
        guild = self.fake.guilds.get(_int(guild_id))
        if guild is None or self.fake.bot_user.id not in guild.members:
            raise ApiError(403, 50001, "Missing Access")
        return _int(guild_id)

    def _stored_command(
        self, scope: int | None, sent: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        command = dict(sent)
        command["id"] = previous["id"] if previous else str(self.fake.ids.next())
        command["application_id"] = str(self.fake.application.id)
        command["type"] = int(sent.get("type", 1))
        command.setdefault("description", "")
        command.setdefault("default_member_permissions", None)
        command.setdefault("nsfw", False)
        unchanged = previous is not None and _same_definition(previous, command)
        command["version"] = previous["version"] if unchanged and previous else str(self.fake.ids.next())
        if scope is not None:
            command["guild_id"] = str(scope)
        return command

    async def list_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        return json_response(self.fake.command_store.get(scope, []))

    async def overwrite_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        sent = request[BODY].json
        if not isinstance(sent, list):
            raise ApiError(400, 50035, "Invalid Form Body", _field_error("_root", "Expected a list"))
        check_commands(sent)
        old = {(c["name"], c["type"]): c for c in self.fake.command_store.get(scope, [])}
        stored = [self._stored_command(scope, c, old.get((c.get("name"), int(c.get("type", 1))))) for c in sent]
        self.fake.command_store[scope] = stored
        return json_response(stored)

    async def upsert_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        sent = request[BODY].object
        check_command(sent)
        commands = self.fake.command_store.setdefault(scope, [])
        key = (sent.get("name"), int(sent.get("type", 1)))
        previous = next((c for c in commands if (c["name"], c["type"]) == key), None)
        command = self._stored_command(scope, sent, previous)
        if previous is not None:
            commands[commands.index(previous)] = command
            return json_response(command)
        commands.append(command)
        return json_response(command, 201)

    def _find_command(self, request: web.Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        scope = self._command_scope(request)
        commands = self.fake.command_store.get(scope, [])
        command_id = request.match_info["command_id"]
        for command in commands:
            if command["id"] == command_id:
                return commands, command
        raise ApiError(404, 10063, "Unknown application command")

    async def get_command(self, request: web.Request) -> web.Response:
        return json_response(self._find_command(request)[1])

    async def edit_command(self, request: web.Request) -> web.Response:
        commands, command = self._find_command(request)
        merged = {k: v for k, v in command.items() if k not in ("id", "application_id", "version", "guild_id")}
        merged.update(request[BODY].object)
        check_command(merged)
        updated = self._stored_command(_opt_int(command.get("guild_id")), merged, command)
        commands[commands.index(command)] = updated
        return json_response(updated)

    async def delete_command(self, request: web.Request) -> web.Response:
        commands, command = self._find_command(request)
        commands.remove(command)
        return no_content()

    # -- interactions ---------------------------------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        handle = fake.interactions.get(_int(request.match_info["interaction_id"]))
        if handle is None or handle.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        body: Body = request[BODY]
        sent = body.object
        callback_type = int(sent.get("type", 0))
        data = dict(sent.get("data") or {})
        now = fake.now()
        if handle.ack_type is not None:
            handle.rejected_acks.append((callback_type, 40060))
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        late = fake.enforce_3s_ack and now - handle.created_at > ACK_DEADLINE
        if handle.expired or late:
            handle.rejected_acks.append((callback_type, 10062))
            raise ApiError(404, 10062, "Unknown interaction")
        if callback_type not in _ALLOWED_CALLBACKS.get(handle.type, set()) or (
            callback_type in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and handle.message_id is None
        ):
            handle.rejected_acks.append((callback_type, 50035))
            raise ApiError(400, 50035, "Invalid Form Body", _field_error("type", "Interaction response type invalid"))
        channel = fake.channels[handle.channel_id]
        message: FakeMessage | None = None
        if callback_type == CHANNEL_MESSAGE_WITH_SOURCE:
            message = await fake.create_message(
                channel,
                data,
                body.files,
                author=fake.bot_user,
                interaction=handle,
                size_limit=handle.attachment_size_limit,
            )
            handle.original_message_id = message.id
        elif callback_type == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = await fake.create_message(channel, {}, [], author=fake.bot_user, interaction=handle, flags=flags)
            handle.original_message_id = message.id
        elif callback_type in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            message = fake.messages_by_id.get(handle.message_id or 0)
            if message is None or message.deleted:
                raise ApiError(404, 10008, "Unknown Message")
            if callback_type == UPDATE_MESSAGE:
                await fake.edit_message(message, data, body.files, size_limit=handle.attachment_size_limit)
            handle.original_message_id = message.id
        elif callback_type == APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            choices = list(data.get("choices") or [])
            if len(choices) > 25:
                raise ApiError(400, 50035, "Invalid Form Body", _field_error("data.choices", "Must be 25 or fewer"))
            handle.choices = choices
        elif callback_type == MODAL:
            check_modal(data)
            handle.modal = data
            fake.opened_modals[str(data["custom_id"])] = handle
        handle.ack_type = callback_type
        handle.ack_data = data
        handle.ack_delay = now - handle.created_at
        fake.notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        return json_response(self._callback_response(handle, callback_type, message))

    def _callback_response(
        self, handle: InteractionHandle, callback_type: int, message: FakeMessage | None
    ) -> dict[str, Any]:
        interaction: dict[str, Any] = {"id": str(handle.id), "type": handle.type}
        resource: dict[str, Any] = {"type": callback_type}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = message.loading
            interaction["response_message_ephemeral"] = message.ephemeral
            if callback_type in (CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, UPDATE_MESSAGE):
                resource["message"] = message.wire()
        return {"interaction": interaction, "resource": resource}

    def _webhook_handle(self, request: web.Request) -> InteractionHandle:
        if _int(request.match_info["app_id"]) != self.fake.application.id:
            raise ApiError(404, 10015, "Unknown Webhook")
        handle = self.fake.interactions_by_token.get(request.match_info["token"])
        if handle is None or handle.expired:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return handle

    def _webhook_message(self, request: web.Request, handle: InteractionHandle) -> FakeMessage:
        raw = request.match_info["message_id"]
        message_id = handle.original_message_id if raw == "@original" else _int(raw)
        allowed = {handle.original_message_id, *handle.followup_ids}
        message = self.fake.messages_by_id.get(message_id or 0)
        if message_id not in allowed or message is None or message.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def create_followup(self, request: web.Request) -> web.Response:
        fake = self.fake
        handle = self._webhook_handle(request)
        if handle.ack_type is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        body: Body = request[BODY]
        sent = body.object
        original = handle.original
        if original is not None and original.loading and handle.ack_type == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            # Discord turns the first follow-up after a thinking defer into the edit of the placeholder.
            message = await fake.edit_message(original, sent, body.files, size_limit=handle.attachment_size_limit)
        else:
            message = await fake.create_message(
                fake.channels[handle.channel_id],
                sent,
                body.files,
                author=fake.bot_user,
                interaction=handle,
                size_limit=handle.attachment_size_limit,
            )
        handle.followup_ids.append(message.id)
        fake.notify()
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(message.wire())
        return no_content()

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        return json_response(self._webhook_message(request, handle).wire())

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        message = self._webhook_message(request, handle)
        body: Body = request[BODY]
        await self.fake.edit_message(message, body.object, body.files, size_limit=handle.attachment_size_limit)
        return json_response(message.wire())

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        handle = self._webhook_handle(request)
        await self.fake.delete_message(self._webhook_message(request, handle))
        return no_content()

    # -- channels and messages ------------------------------------------------------------------------------

    def _channel(self, request: web.Request) -> FakeChannel:
        self._require_bot_auth(request)
        channel = self.fake.channels.get(_int(request.match_info["channel_id"]))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        if not self.fake.bot_sees(channel):  # a group DM, or a server without the bot (its user install's reach)
            raise ApiError(403, 50001, "Missing Access")
        if not channel.is_dm:
            self._require(channel, Permission.VIEW_CHANNEL)
        return channel

    def _bot_permissions(self, channel: FakeChannel) -> int | None:
        if channel.is_dm:
            return None
        guild = self.fake.guild_of(channel)
        return channel_permissions(guild, guild.member(self.fake.bot_user), channel)

    def _require(self, channel: FakeChannel, needed: int) -> None:
        permissions = self._bot_permissions(channel)
        if permissions is not None and permissions & needed != needed:
            if not permissions & Permission.VIEW_CHANNEL:
                raise ApiError(403, 50001, "Missing Access")
            raise ApiError(403, 50013, "Missing Permissions")

    def _channel_message(self, request: web.Request, channel: FakeChannel) -> FakeMessage:
        message = self.fake.messages_by_id.get(_int(request.match_info["message_id"]))
        if message is None or message.deleted or message.ephemeral or message.channel_id != channel.id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        return json_response(channel_payload(channel, recipients=self.fake._recipients(channel)))

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(channel, Permission.READ_MESSAGE_HISTORY)
        limit = max(1, min(100, int(request.query.get("limit", "50"))))
        messages = self.fake.messages(channel, include_ephemeral=False)
        if "before" in request.query:
            messages = [m for m in messages if m.id < int(request.query["before"])]
        if "after" in request.query:
            messages = [m for m in messages if m.id > int(request.query["after"])][:limit]
        if "around" in request.query:
            around = int(request.query["around"])
            older = [m for m in messages if m.id <= around][-(limit // 2 + 1) :]
            newer = [m for m in messages if m.id > around][: limit - len(older)]
            messages = older + newer
        newest_first = list(reversed(messages))[:limit]
        return json_response([m.wire() for m in newest_first])

    async def create_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = self._channel(request)
        body: Body = request[BODY]
        sent = body.object
        if channel.is_dm:
            recipient = fake.users[channel.recipient_id or 0]
            if not recipient.dms_open or recipient.bot:
                raise ApiError(403, 50007, "Cannot send messages to this user")
        else:
            needed = Permission.SEND_MESSAGES | (Permission.ATTACH_FILES if body.files else 0)
            if sent.get("message_reference"):
                needed |= Permission.READ_MESSAGE_HISTORY
            self._require(channel, needed)
        message = await fake.create_message(channel, sent, body.files, author=fake.bot_user)
        return json_response(message.wire())

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(channel, Permission.READ_MESSAGE_HISTORY)
        return json_response(self._channel_message(request, channel).wire())

    async def edit_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        if message.author_id != self.fake.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body: Body = request[BODY]
        await self.fake.edit_message(message, body.object, body.files)
        return json_response(message.wire())

    async def delete_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        if message.author_id != self.fake.bot_user.id:
            if channel.is_dm:
                raise ApiError(403, 50003, "Cannot execute action on a DM channel")
            self._require(channel, Permission.MANAGE_MESSAGES)
        await self.fake.delete_message(message)
        return no_content()

    async def bulk_delete(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(channel, Permission.MANAGE_MESSAGES)
        ids = [int(i) for i in request[BODY].object.get("messages") or []]
        if not 2 <= len(ids) <= 100:
            raise ApiError(400, 50016, "You must provide at least 2 and fewer than 100 messages to delete.")
        for message_id in ids:
            message = self.fake.messages_by_id.get(message_id)
            if message is not None and message.channel_id == channel.id and not message.deleted:
                await self.fake.delete_message(message)
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(channel, Permission.SEND_MESSAGES)
        return no_content()

    async def add_reaction(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        emoji = request.match_info["emoji"]
        existing = bool(message.reaction_users.get(emoji_key(emoji)))
        self._require(channel, Permission.READ_MESSAGE_HISTORY | (0 if existing else Permission.ADD_REACTIONS))
        await self._bot_reaction(channel, message, emoji, add=True)
        return no_content()

    async def remove_reaction(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        target = request.match_info["user"]
        emoji = request.match_info["emoji"]
        if target == "@me":
            await self._bot_reaction(channel, message, emoji, add=False)
            return no_content()
        self._require(channel, Permission.MANAGE_MESSAGES)
        user = fake.users.get(_int(target))
        if user is not None and fake._set_reaction(message, emoji, user.id, add=False):
            await self._reaction_event(channel, message, emoji, user.id, add=False)
        return no_content()

    async def _bot_reaction(self, channel: FakeChannel, message: FakeMessage, emoji: str, *, add: bool) -> None:
        if self.fake._set_reaction(message, emoji, self.fake.bot_user.id, add=add):
            await self._reaction_event(channel, message, emoji, self.fake.bot_user.id, add=add)
        self.fake.notify()

    async def _reaction_event(
        self, channel: FakeChannel, message: FakeMessage, emoji: str, user_id: int, *, add: bool
    ) -> None:
        fake = self.fake
        user = fake.users[user_id]
        event = fake._reaction_event(channel, message.id, emoji, user, add=add, burst=False, message=message)
        intent = INTENT_DIRECT_MESSAGE_REACTIONS if channel.is_dm else INTENT_GUILD_MESSAGE_REACTIONS
        await fake._dispatch_if_connected("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", event, intent)

    async def reaction_users(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        users = message.reaction_users.get(emoji_key(request.match_info["emoji"]), [])
        limit = max(1, min(100, int(request.query.get("limit", "25"))))
        return json_response([user_payload(self.fake.users[u]) for u in users[:limit]])

    async def clear_reactions(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        self._require(channel, Permission.MANAGE_MESSAGES)
        emoji = request.match_info.get("emoji")
        keys = [emoji_key(emoji)] if emoji else list(message.reaction_users)
        for key in keys:
            message.reaction_users[key] = []
        self.fake._render_reactions(message)
        self.fake.notify()
        return no_content()

    # -- guilds ---------------------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> FakeGuild:
        self._require_bot_auth(request)
        guild = self.fake.guilds.get(_int(request.match_info["guild_id"]))
        if guild is None or self.fake.bot_user.id not in guild.members:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        payload = guild_payload(guild)
        if request.query.get("with_counts") in ("1", "true", "True"):
            payload["approximate_member_count"] = len(guild.members)
            payload["approximate_presence_count"] = 0
        return json_response(payload)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response([channel_payload(c) for c in guild.channels.values()])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response([role_payload(r) for r in guild.roles.values()])

    async def list_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        limit = max(1, min(1000, int(request.query.get("limit", "1"))))
        after = int(request.query.get("after", "0"))
        members = sorted((m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id)
        return json_response([member_payload(m) for m in members[:limit]])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        member = guild.members.get(_int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(member_payload(member))

    # -- files ----------------------------------------------------------------------------------------------

    async def refresh_urls(self, request: web.Request) -> web.Response:
        """``POST /attachments/refresh-urls``: each link re-signed if its file still exists, else as it was."""
        self._require_bot_auth(request)
        body: Body = request[BODY]
        urls = body.object.get("attachment_urls")
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            raise ApiError(400, 50035, "Invalid Form Body", _field_error("attachment_urls", "Must be a list of links."))
        if not 1 <= len(urls) <= REFRESH_LIMIT:
            raise ApiError(
                400, 50035, "Invalid Form Body", _field_error("attachment_urls", f"Must be 1 to {REFRESH_LIMIT} links.")
            )
        refreshed = []
        for url in urls:
            attachment = self.fake.attachment_for(url)
            refreshed.append({"original": url, "refreshed": url if attachment is None else attachment.url})
        return json_response({"refreshed_urls": refreshed})

    async def get_attachment(self, request: web.Request) -> web.Response:
        """A file, for a link whose signature is good and not expired (404 once the file or the link is gone)."""
        fake = self.fake
        attachment = fake.attachment_for(str(request.url))
        if attachment is None:
            return web.Response(status=404, text="Not Found")
        refused = fake.links.check(attachment.id, dict(request.query))
        if refused is not None:
            return web.Response(status=refused.status, text=refused.reason)
        if attachment.hold is not None:
            await attachment.hold.wait()
        content_type = attachment.content_type or "application/octet-stream"
        return web.Response(body=attachment.data, headers={"Content-Type": content_type})


def build_app(fake: FakeDiscord) -> web.Application:
    api = RestApi(fake)
    app = web.Application(middlewares=[api.middleware], client_max_size=MAX_REQUEST_SIZE)
    app.router.add_routes(api.routes())
    app.router.add_get("/gateway", fake.gateway.handle)
    app.router.add_get("/gateway/", fake.gateway.handle)
    return app


def _api_path(path: str) -> str:
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path


def _response_json(response: web.StreamResponse) -> Any:
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return None
    body = response.body
    if not isinstance(body, bytes | bytearray):
        return None
    return json.loads(body)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(404, 0, "404: Not Found") from None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _field_error(field_name: str, message: str) -> dict[str, Any]:
    errors = FormErrors()
    errors.add(field_name.split("."), "BASE_TYPE_INVALID", message)
    return errors.tree


def _same_definition(old: dict[str, Any], new: dict[str, Any]) -> bool:
    ignored = {"id", "version", "application_id", "guild_id"}
    return {k: v for k, v in old.items() if k not in ignored} == {k: v for k, v in new.items() if k not in ignored}
