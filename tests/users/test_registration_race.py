"""Two registrations of one name at once: one account, the other a 400, never a 500."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from customers.models import Customer
from users.models import User

REGISTER = "/api/v1/auth/register"


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_name_in_any_case_create_one_account():
    names = ["racer", "RACER", "Racer", "racer", "rAcEr", "RACER"]
    barrier = threading.Barrier(len(names))
    statuses: list[int] = []

    def register(i: int, name: str) -> None:
        try:
            barrier.wait()
            response = APIClient().post(
                REGISTER,
                {"username": name, "email": f"racer{i}@example.com", "password": "a-Long-pa55phrase"},
                format="json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i, name)) for i, name in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

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
