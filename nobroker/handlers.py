"""
Django's ASGI handler, made safe for clients that hang up mid-request.

Django's own handler (6.1) cancels the request when the client disconnects.
A sync view cannot be stopped: asgiref's `sync_to_async` abandons the thread,
which runs on, and hands the cancelled caller the context of that thread,
including its `CurrentThreadExecutor`, which quits soon after. The handler
then sends `request_finished` (which returns the request's database
connection to the pool) through that dead executor: it fails with
"CurrentThreadExecutor already quit or is broken", or it runs before the view
has even opened its connection. Either way the connection stays checked out
in a thread that is about to end, and the pool loses it for good: with a pool
of 20, twenty hang-ups and every page waits for a connection that never comes.

Here the request's work runs to its end whatever the client does (a page's
SQL is bounded by the statement timeout, and its thread could not be stopped
anyway); only the sending stops. The response is then closed, sending
`request_finished`, in the request's own thread, where its connection lives.
A request whose client left before the view started is not run at all.

See Django ticket #35059 and asgiref issues #491 and #526.
"""

import asyncio
from contextlib import closing

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi
from django.urls import set_script_prefix


async def _hang_up(receive) -> None:
    """Returns when the client disconnects (the only message after the body)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class ASGIHandler(asgi.ASGIHandler):
    async def __call__(self, scope, receive, send):
        # The server may cancel the application too: daphne does 10 s after a
        # hang-up, and at shutdown. The request still finishes and cleans up
        # first, in its own task (which holds the thread-sensitive context).
        request = asyncio.ensure_future(super().__call__(scope, receive, send))
        cancelled = False
        while True:
            try:
                await asyncio.shield(request)
            except asyncio.CancelledError:
                if request.done():
                    raise
                cancelled = True
                continue
            break
        if cancelled:
            raise asyncio.CancelledError

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            set_script_prefix(asgi.get_script_prefix(scope))
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(error_response, send)
                await sync_to_async(error_response.close)()
                return
            hung_up = asyncio.ensure_future(_hang_up(receive))
            response = sending = None
            try:
                # Yield once, so a disconnect already queued is seen first.
                await asyncio.sleep(0)
                if hung_up.done():
                    return
                response = await self.run_get_response(request)
                sending = asyncio.ensure_future(self.send_response(response, send))
                await asyncio.wait(
                    {sending, hung_up}, return_when=asyncio.FIRST_COMPLETED
                )
                if sending.done():
                    sending.result()
                else:
                    # Its own task: whatever sync work a cancelled send leaves
                    # behind runs on the request's thread before the close.
                    sending.cancel()
                    await asyncio.wait({sending})
            finally:
                hung_up.cancel()
                # Whatever a task left unfinished ended with, the client is gone.
                for task in (hung_up, sending):
                    if task is not None and task.done() and not task.cancelled():
                        task.exception()
                if response is None:
                    await signals.request_finished.asend(sender=self.__class__)
                else:
                    await sync_to_async(response.close)()


def get_asgi_application() -> ASGIHandler:
    """`django.core.asgi.get_asgi_application`, with the handler above."""
    django.setup(set_prefix=False)
    return ASGIHandler()
