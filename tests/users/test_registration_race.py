"""Two registrations of one name at once: one account, the other a 400, never a 500."""

from functools import partial

import pytest
from rest_framework.test import APIClient

from customers.models import Customer
from tests.testkit.concurrency import at_once
from users.models import User

REGISTER = "/api/v1/auth/register"


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_name_in_any_case_create_one_account():
    names = ["racer", "RACER", "Racer", "racer", "rAcEr", "RACER"]

    def register(i: int, name: str) -> int:
        body = {"username": name, "email": f"racer{i}@example.com", "password": "a-Long-pa55phrase"}
        return APIClient().post(REGISTER, body, format="json").status_code

    statuses = at_once([partial(register, i, name) for i, name in enumerate(names)])

    assert sorted(statuses) == [201] + [400] * (len(names) - 1)
    assert User.objects.filter(username__iexact="racer").count() == 1
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_a_username_differing_only_in_case_is_taken(api_client):
    first = {"username": "alice", "email": "alice@example.com", "password": "a-Long-pa55phrase"}
    assert api_client.post(REGISTER, first, format="json").status_code == 201

    response = api_client.post(REGISTER, {**first, "username": "ALICE", "email": "other@example.com"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["username"]
