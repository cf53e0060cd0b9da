"""
The Redis pub/sub channel layer, with several group sends in one trip.

A chat message makes two group events (to the conversation, and to the
recipient's badge); channels_redis publishes each one under its own lock,
with its own command and round trip to Redis. `group_send_many` publishes
them in one pipeline per Redis shard, in order. It relies on internals of
channels-redis 4.3 (pinned in requirements.txt); the tests run it on Redis.
"""

from channels_redis.pubsub import RedisPubSubChannelLayer as PubSubLayer


class RedisPubSubChannelLayer(PubSubLayer):
    async def group_send_many(
        self, sends: list[tuple[str, dict]], *, then: list[tuple] = ()
    ) -> list:
        """
        Sends each `(group, message)` as `group_send` would, in one trip.

        `then`: Redis commands (tuples of arguments) to run after the last
        publish in the same trip, on a layer of one Redis; returns their
        replies. Messaging uses it for the cache keys a message changes when
        the cache is that same Redis (`events.asend`).
        """
        layer = self._get_layer()
        if then and len(layer._shards) != 1:
            raise ValueError("Commands ride along only on a layer of one Redis.")
        batches: dict = {}
        for group, message in sends:
            channel = layer._get_group_channel_name(group)
            shard = layer._get_shard(channel)
            batches.setdefault(shard, []).append((channel, self.serialize(message)))
        if not batches and then:
            batches[layer._shards[0]] = []
        replies = []
        for shard, publishes in batches.items():
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel, data in publishes:
                    pipe.publish(channel, data)
                for command in then:
                    pipe.execute_command(*command)
                replies = (await pipe.execute())[len(publishes) :]
        return replies

    async def channel_discard(self, channel: str) -> None:
        """
        Ends a channel this process made: its queue and its subscription.

        channels-redis drops them only when a pending `receive` is cancelled;
        a consumer that ends with a message already received (the socket
        closed while an event for it was on its way) would otherwise leave
        both behind, in this process and in Redis, for as long as it runs.
        """
        layer = self._get_layer()
        if layer.channels.pop(channel, None) is not None:
            await layer._get_shard(channel).unsubscribe(channel)


async def channel_end(layer, channel: str, groups=()) -> None:
    """Leaves `groups` and ends `channel`, on any channel layer."""
    for group in groups:
        await layer.group_discard(group, channel)
    discard = getattr(layer, "channel_discard", None)
    if discard is not None:
        await discard(channel)
