import json
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import Product
from events.models import Event
from orders.models import IdempotencyKey, Order
from orders.tasks import prune_idempotency_keys
from tests.factories import ProductFactory, UserFactory
from tests.testkit.clients import client_for
from tests.testkit.concurrency import at_once

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
        assert again.content == first.content
        assert again["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first
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

    def test_the_key_is_stored_in_the_orders_transaction_with_the_bytes_sent(self, shopper, shopper_client, mug):
        response = post(shopper_client)

        stored = IdempotencyKey.objects.get()
        assert stored.scope == f"customer:{shopper.customer.pk}"
        assert stored.response_status == 201
        assert stored.response_body.encode() == response.content

    def test_the_same_key_on_another_endpoint_is_422(self, shopper_client, mug):
        order = post(shopper_client).json()

        response = shopper_client.post(f"{ORDERS}/{order['id']}/cancel", HTTP_IDEMPOTENCY_KEY="key-1")

        assert response.status_code == 422
        assert Order.objects.get(pk=order["id"]).status == "pending"

    def test_a_key_past_its_time_to_live_counts_as_unused(self, shopper_client, mug, settings):
        first = post(shopper_client)
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL + 1))

        again = post(shopper_client)

        assert again.status_code == 201
        assert again.json()["id"] != first.json()["id"]
        assert Order.objects.count() == 2
        assert IdempotencyKey.objects.get().created_at > timezone.now() - timedelta(minutes=1)


@pytest.mark.django_db
class TestIdempotentCancel:
    def test_a_cancel_sent_again_with_its_key_replays_200_and_cancels_once(self, shopper_client, mug):
        order = post(shopper_client, key="place").json()
        cancel = f"{ORDERS}/{order['id']}/cancel"

        first = shopper_client.post(cancel, HTTP_IDEMPOTENCY_KEY="cancel")
        again = shopper_client.post(cancel, HTTP_IDEMPOTENCY_KEY="cancel")

        assert first.status_code == again.status_code == 200
        assert again.content == first.content
        assert again["Idempotent-Replayed"] == "true"
        assert first.json()["status"] == "cancelled"
        assert Event.objects.filter(type="order.cancelled").count() == 1
        assert Product.objects.get(pk=mug.pk).stock == 10

    def test_a_cancel_without_a_key_sent_twice_is_409_the_second_time(self, shopper_client, mug):
        order = post(shopper_client).json()
        cancel = f"{ORDERS}/{order['id']}/cancel"

        assert shopper_client.post(cancel).status_code == 200
        response = shopper_client.post(cancel)

        assert response.status_code == 409
        assert Event.objects.filter(type="order.cancelled").count() == 1

    def test_a_refused_cancel_stores_nothing(self, shopper_client, mug):
        order = post(shopper_client, key="place").json()
        cancel = f"{ORDERS}/{order['id']}/cancel"
        shopper_client.post(cancel)

        response = shopper_client.post(cancel, HTTP_IDEMPOTENCY_KEY="cancel")

        assert response.status_code == 409
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["place"]

    def test_another_customers_order_is_404_and_their_key_is_not_taken(self, shopper_client, mug):
        order = post(shopper_client).json()
        other = client_for(UserFactory())

        response = other.post(f"{ORDERS}/{order['id']}/cancel", HTTP_IDEMPOTENCY_KEY="key-1")

        assert response.status_code == 404
        assert Order.objects.get(pk=order["id"]).status == "pending"
        assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
class TestPruning:
    def test_pruning_deletes_expired_keys_only(self, shopper_client, mug, settings):
        post(shopper_client, key="old")
        post(shopper_client, key="new")
        expired = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL + 1)
        IdempotencyKey.objects.filter(key="old").update(created_at=expired)

        deleted = prune_idempotency_keys.apply().get()

        assert deleted == 1
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
        assert Order.objects.count() == 2

    def test_pruning_is_scheduled(self, settings):
        entry = settings.CELERY_BEAT_SCHEDULE["orders.prune_idempotency_keys"]
        assert entry["task"] == prune_idempotency_keys.name
        assert entry["schedule"] <= timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_place_exactly_one_order(broker):
    """Twenty clients send the same request with the same key at once: one order is
    placed; every other answer is the replay of its 201, or 409 while it was in flight."""
    ProductFactory(sku="MUG-01", stock=100)
    shopper = UserFactory()
    clients = [client_for(shopper) for _ in range(20)]

    def send(client) -> tuple[int, bytes]:
        response = post(client, key="once")
        return response.status_code, response.content

    answers = at_once([partial(send, client) for client in clients])

    order = Order.objects.get()
    assert Product.objects.get(sku="MUG-01").stock == 98
    created = [body for status, body in answers if status == 201]
    assert created, answers
    assert all(body == created[0] for body in created)  # byte for byte
    assert json.loads(created[0])["id"] == order.pk
    assert {status for status, _ in answers} <= {201, 409}
    in_flight = [json.loads(body) for status, body in answers if status == 409]
    assert all(body["error"]["code"] == "conflict" for body in in_flight)
    if connection.vendor == "sqlite":  # SQLite serialises the writers: each waits, then replays
        assert not in_flight


@pytest.mark.django_db(transaction=True)
def test_a_key_used_by_another_customer_at_the_same_moment_gets_their_own_order(broker):
    """Two customers send one key at once: keys are per caller, so neither waits for,
    conflicts with or sees the other's answer."""
    ProductFactory(sku="MUG-01", stock=100)
    customers = [UserFactory(), UserFactory()]

    def send(user) -> tuple[int, dict]:
        response = post(client_for(user), key="same-key")
        return response.status_code, response.json()

    answers = at_once([partial(send, user) for user in customers])

    assert {status for status, _ in answers} == {201}
    for user, (_, body) in zip(customers, answers, strict=True):
        assert Order.objects.get(pk=body["id"]).customer == user.customer
    assert Product.objects.get(sku="MUG-01").stock == 96  # two orders of two mugs
