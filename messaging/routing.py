from django.urls import path

from messaging import consumers

websocket_urlpatterns = [
    path("ws/messages/", consumers.UnreadConsumer.as_asgi()),
    path("ws/messages/<int:pk>/", consumers.ConversationConsumer.as_asgi()),
]
