"""Account flagging: the accounts that staff look at first, and why."""

import pytest

from accounts import services
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_accounts_sharing_a_phone_are_flagged_together_with_the_reason():
    first = UserFactory(phone="+9779841111111", role="owner")
    second = UserFactory(phone="+9779841111111")
    alone = UserFactory(phone="+9779842222222")

    assert services.user_flag_shared_phone(user=first) == 2
    assert services.user_flag_shared_phone(user=alone) == 0

    first.refresh_from_db()
    second.refresh_from_db()
    alone.refresh_from_db()
    assert first.is_flagged and second.is_flagged and not alone.is_flagged
    assert second.flag_reason == "The phone number +9779841111111 is on 2 accounts."
    assert list(services.accounts_sharing_phone(first)) == [second]
    assert not services.accounts_sharing_phone(UserFactory(phone="")).exists()


def test_the_daily_sweep_flags_each_shared_phone_once():
    UserFactory.create_batch(3, phone="+9779843333333")
    UserFactory(phone="+9779844444444")
    UserFactory(phone="")
    UserFactory(phone="")

    assert services.users_flag_shared_phones() == 3
    assert services.users_flag_shared_phones() == 0


def test_flagging_an_owner_takes_away_the_trusted_standing():
    owner = UserFactory(role="owner", is_trusted_owner=True)

    services.user_flag(user=owner, reason="Report upheld: " + "x" * 300)

    owner.refresh_from_db()
    assert owner.is_flagged and not owner.is_trusted_owner
    assert len(owner.flag_reason) == 255
