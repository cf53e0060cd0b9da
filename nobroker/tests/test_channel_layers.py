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
