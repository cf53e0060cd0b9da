"""Websocket routes of every app, gathered for `nobroker.asgi`."""

from django.urls import path

from messaging.routing import websocket_urlpatterns as messaging_websockets
from nobroker.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    *messaging_websockets,
]
