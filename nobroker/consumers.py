"""
The base of every websocket consumer of the site, and the ping socket.

`SiteSocket` does for a socket what `RequestLogMiddleware` does for a page:
its log lines carry a request id, the user's id and the view "websocket", and
its opening and closing are logged and counted (nobroker.metrics). It is done
in the consumer, not in a middleware around it, because an idle socket keeps
every layer of its call stack alive for as long as it is open: so `__call__`
is Channels' own (`AsyncConsumer.__call__`, channels 4.3) with the logging
and the ending written into it, not a layer around it: two coroutines, one
copy of the scope and one wrapped `send` less per socket (bench/CHAT.md).
"""

import functools
import time

from autobahn.exception import Disconnected
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from nobroker import logs, metrics


class SiteSocket(AsyncJsonWebsocketConsumer):
    accepted_at = None

    async def __call__(self, scope, receive, send):
        # Each socket runs as a task of its own, in a copy of the context:
        # what is set here is seen by this socket's log lines only, and goes
        # with the task, so nothing needs resetting.
        logs.websocket_context(scope)
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        receives = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(
                self.channel_layer.receive, self.channel_name
            )
            receives.append(self.channel_receive)
        try:
            await await_many_dispatch(receives, self.dispatch)
        except StopConsumer:
            pass
        except Disconnected:
            # The socket closed while an event for it was being sent: the
            # socket is gone, which is what its closing would do anyway.
            pass
        finally:
            try:
                await self.ended()
            finally:
                if self.accepted_at is not None:
                    metrics.websocket_closed()
                    logs.websocket_closed(scope, self.accepted_at)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        if self.accepted_at is None:
            self.accepted_at = time.perf_counter()
            metrics.websocket_opened()
            logs.websocket_opened(self.scope)

    async def ended(self) -> None:
        """Runs once the socket has ended, however it ended."""


class PingConsumer(SiteSocket):
    """Answers "pong": lets a load balancer or a person check that websockets work."""

    async def connect(self):
        await self.accept()

    async def disconnect(self, code):
        pass

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "pong"})
