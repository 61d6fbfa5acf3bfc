import threading

import pytest
from django.db import connection

from catalog.models import Product
from events.models import Event
from orders.models import IdempotencyKey, Order
from tests.conftest import client_for
from tests.factories import ProductFactory, UserFactory

ORDERS = "/api/v1/orders"
BODY = {"items": [{"sku": "MUG-01", "quantity": 2}], "payment_token": "tok_ok"}


def post(client, body=BODY, key="key-1"):
    return client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
class TestIdempotencyKey:
    def test_the_same_key_and_body_again_gives_the_first_answer_and_no_new_order(self, shopper_client, mug):
        first = post(shopper_client)
        again = post(shopper_client)

        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert Order.objects.count() == 1
        assert Event.objects.filter(type="order.placed").count() == 1
        assert Product.objects.get(pk=mug.pk).stock == 8

    def test_the_same_body_with_keys_in_another_order_is_the_same_request(self, shopper_client, mug):
        first = post(shopper_client)
        again = post(shopper_client, {"payment_token": "tok_ok", "items": [{"quantity": 2, "sku": "MUG-01"}]})

        assert again.status_code == 201
        assert again.json() == first.json()
        assert Order.objects.count() == 1

    def test_the_same_key_with_another_body_is_422_and_places_nothing(self, shopper_client, mug):
        first = post(shopper_client)

        response = post(shopper_client, {"items": [{"sku": "MUG-01", "quantity": 3}], "payment_token": "tok_ok"})

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "unprocessable"
        assert list(Order.objects.values_list("pk", flat=True)) == [first.json()["id"]]
        assert Product.objects.get(pk=mug.pk).stock == 8

    def test_another_key_places_another_order(self, shopper_client, mug):
        first = post(shopper_client, key="key-1")
        second = post(shopper_client, key="key-2")

        assert second.status_code == 201
        assert second.json()["id"] != first.json()["id"]
        assert Order.objects.count() == 2

    def test_keys_are_scoped_per_customer(self, shopper, shopper_client, mug):
        theirs = post(shopper_client, key="shared-key")
        other = UserFactory()

        mine = post(client_for(other), key="shared-key")

        assert mine.status_code == 201
        assert mine.json()["id"] != theirs.json()["id"]
        assert Order.objects.get(pk=mine.json()["id"]).customer == other.customer
        assert Order.objects.get(pk=theirs.json()["id"]).customer == shopper.customer
        # and a different body under the same key is no conflict across customers
        assert (
            post(client_for(UserFactory()), {"items": [{"sku": "MUG-01", "quantity": 1}]}, "shared-key").status_code
            == 201
        )

    def test_a_refused_request_does_not_use_up_its_key(self, shopper_client, mug):
        refused = post(shopper_client, {"items": [{"sku": "MUG-01", "quantity": 11}], "payment_token": "tok_ok"})
        assert refused.status_code == 400
        assert not IdempotencyKey.objects.exists()

        response = post(shopper_client)

        assert response.status_code == 201
        assert Order.objects.count() == 1

    def test_a_replay_answers_what_was_first_answered_even_after_the_order_moved_on(self, shopper_client, mug):
        first = post(shopper_client)
        shopper_client.post(f"{ORDERS}/{first.json()['id']}/cancel")

        again = post(shopper_client)

        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.json()["status"] == "pending"

    def test_a_key_longer_than_255_characters_is_400_naming_the_header(self, shopper_client, mug):
        response = post(shopper_client, key="k" * 256)

        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["Idempotency-Key"]
        assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_place_exactly_one_order(broker):
    """Eight clients send the same request with the same key at once: one order is
    placed; every other answer is the replay of its 201, or 409 while it was in flight."""
    ProductFactory(sku="MUG-01", stock=100)
    shopper = UserFactory()
    clients = [client_for(shopper) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def send(client):
        try:
            barrier.wait(timeout=10)
            response = post(client, key="once")
            answers.append((response.status_code, response.json()))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert not errors
    assert len(answers) == len(clients)
    order = Order.objects.get()
    assert Product.objects.get(sku="MUG-01").stock == 98
    created = [body for status, body in answers if status == 201]
    assert created, answers
    assert all(body == created[0] for body in created)
    assert created[0]["id"] == order.pk
    assert {status for status, _ in answers} <= {201, 409}
    in_flight = [body for status, body in answers if status == 409]
    assert all(body["error"]["code"] == "conflict" for body in in_flight)
    if connection.vendor == "sqlite":  # SQLite serialises the writers: each waits, then replays
        assert not in_flight
