"""The site keeps working, and says what is wrong, when Redis is unreachable."""

import pytest
from django.db import InterfaceError, OperationalError
from django.urls import reverse

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [DEAD_REDIS]},
        }
    }


@pytest.mark.django_db
def test_pages_and_logins_work_with_the_cache_down(
    client, tenant, password, redis_down
):
    assert client.get(reverse("home")).status_code == 200
    response = client.post(
        reverse("accounts:login"), {"username": tenant.email, "password": password}
    )
    assert response.status_code == 302
    # Sessions are written to the database too, so the login survives.
    assert client.get(reverse("accounts:profile")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_parts_that_failed(client, redis_down):
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert set(body["failed"]) == {"cache", "channel_layer"}


def test_cache_outage_is_logged_as_one_line_per_failure():
    import logging
    import sys

    from nobroker.logfilters import OneLine

    try:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")
    except ConnectionError:
        record = logging.LogRecord(
            "django_redis.cache",
            logging.ERROR,
            __file__,
            1,
            "Exception ignored",
            None,
            sys.exc_info(),
        )
    assert OneLine().filter(record)
    formatted = logging.Formatter("%(message)s").format(record)
    assert formatted == (
        "Exception ignored: ConnectionError: Error 111 connecting to 127.0.0.1:6379"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [
        OperationalError("couldn't get a connection after 3.00 sec"),
        InterfaceError("connection already closed"),
    ],
)
def test_a_database_outage_gets_a_page_that_says_so(client, monkeypatch, error):
    def unreachable(search):
        raise error

    monkeypatch.setattr("listings.views.run_search", unreachable)
    client.raise_request_exception = False
    response = client.get(reverse("listings:search"), {"q": "flat"})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    html = response.content.decode()
    assert "We can’t reach our listings right now" in html
    assert "couldn't get a connection" not in html and "Traceback" not in html


@pytest.mark.django_db
def test_any_other_error_gets_the_plain_error_page(client, monkeypatch):
    def broken(search):
        raise RuntimeError("a bug")

    monkeypatch.setattr("listings.views.run_search", broken)
    client.raise_request_exception = False
    response = client.get(reverse("listings:search"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html and "a bug" not in html


@pytest.mark.django_db
def test_a_statement_past_the_timeout_is_cancelled_and_the_page_says_so(
    client, monkeypatch
):
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")

    def slow(search):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 50")
            cursor.execute("SELECT pg_sleep(2)")

    monkeypatch.setattr("listings.views.run_search", slow)
    client.raise_request_exception = False
    response = client.get(reverse("listings:search"))
    assert response.status_code == 503
