"""Statements run from the event loop on PostgreSQL (the chat's hot path)."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from accounts.tests.factories import UserFactory
from nobroker import async_db

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if not async_db.enabled():
        pytest.skip("Statements from the event loop need PostgreSQL.")


@pytest.fixture(autouse=True)
async def _close_pools():
    yield
    await async_db.close_all()


async def test_statement_is_committed_when_it_returns():
    user = await database_sync_to_async(UserFactory)(full_name="Sita Sharma")
    row = await async_db.fetchone(
        'UPDATE "accounts_user" SET "full_name" = %s WHERE "id" = %s RETURNING "id"',
        ["Sita Thapa", user.pk],
    )
    assert row == (user.pk,)
    # Django's own connection sees it at once: nothing is left to commit.
    stored = await database_sync_to_async(User.objects.get)(pk=user.pk)
    assert stored.full_name == "Sita Thapa"


async def test_database_error_is_left_to_django_and_the_pool_keeps_working():
    with pytest.raises(async_db.Unavailable):
        await async_db.fetchone("SELECT 1 / %s", [0])
    assert await async_db.fetchone("SELECT %s + 1", [1]) == (2,)


async def test_a_slow_statement_does_not_hold_up_the_others():
    loop = asyncio.get_running_loop()
    began = loop.time()
    rows = await asyncio.gather(
        *(async_db.fetchone("SELECT %s, pg_sleep(0.3)", [n]) for n in range(3))
    )
    assert [row[0] for row in rows] == [0, 1, 2]
    # One connection would take 0.9 s; the pool opens more when they wait.
    assert loop.time() - began < 0.75
