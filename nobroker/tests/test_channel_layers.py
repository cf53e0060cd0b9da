"""The pub/sub layer's batched group sends, on Redis (REDIS_URL, as in CI)."""

import os

import pytest

from nobroker.channel_layers import RedisPubSubChannelLayer

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="The pub/sub layer needs Redis."
)


@pytest.fixture
async def layer():
    layer = RedisPubSubChannelLayer(hosts=[os.environ["REDIS_URL"]], prefix="test")
    yield layer
    await layer.flush()


async def test_group_send_many_reaches_every_group_in_order(layer):
    first = await layer.new_channel()
    second = await layer.new_channel()
    outsider = await layer.new_channel()
    await layer.group_add("conversation_1", first)
    await layer.group_add("conversation_1", second)
    await layer.group_add("user_2", second)
    await layer.group_add("user_3", outsider)
    await layer.group_send_many(
        [
            ("conversation_1", {"type": "message.new", "n": 1}),
            ("user_2", {"type": "unread.changed", "added": 1}),
        ]
    )
    assert await layer.receive(first) == {"type": "message.new", "n": 1}
    assert await layer.receive(second) == {"type": "message.new", "n": 1}
    assert await layer.receive(second) == {"type": "unread.changed", "added": 1}
    await layer.group_send("user_3", {"type": "ping"})
    # The outsider got nothing from the batch: its first message is this one.
    assert await layer.receive(outsider) == {"type": "ping"}


async def test_commands_ride_in_the_same_trip_after_the_publishes(layer):
    import redis.asyncio

    channel = await layer.new_channel()
    await layer.group_add("conversation_9", channel)
    client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    await client.set("test:ride:forget", 4)
    try:
        replies = await layer.group_send_many(
            [("conversation_9", {"type": "message.new", "n": 9})],
            then=[
                ("DEL", "test:ride:forget"),
                ("INCR", "test:ride:count"),
                ("EXPIRE", "test:ride:count", 60, "NX"),
            ],
        )
        assert replies == [1, 1, 1]
        assert await layer.receive(channel) == {"type": "message.new", "n": 9}
        assert await client.get("test:ride:forget") is None
        assert 0 < await client.ttl("test:ride:count") <= 60
    finally:
        await client.delete("test:ride:forget", "test:ride:count")
        await client.aclose()
