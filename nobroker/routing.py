"""Websocket routes of every app, gathered for `nobroker.asgi`."""

from django.urls import path

from nobroker.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
]
