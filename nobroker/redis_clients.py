"""
One Redis client per Redis URL and process, for the cache.

Django's cache handler keeps a cache object per context, so it makes a new one
for every page request and every websocket, and django-redis a new
`redis.Redis` for each: about 12 KiB (its own copy of the reply-callback table)
and some 45 µs a page, kept for as long as a websocket stays open. A client
holds nothing of a request: it is its connection pool (which django-redis
already shares per URL) and that table, and it is safe to share between
threads and tasks. So this factory hands every cache object the same client.
"""

from django_redis.pool import ConnectionFactory


class SharedClientConnectionFactory(ConnectionFactory):
    # Process-wide, as django-redis keeps its pools.
    _clients: dict = {}

    def get_connection(self, params: dict):
        client = self._clients.get(params["url"])
        if client is None:
            client = self._clients.setdefault(
                params["url"], super().get_connection(params)
            )
        return client
