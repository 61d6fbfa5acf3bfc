"""Webhooks end to end: a staff member registers an endpoint over HTTP, a customer
places an order over HTTP, and the real worker delivers its events to a real receiver
on loopback, which verifies each signature with the ``standardwebhooks`` library."""

import time

import pytest
import requests

from events.models import Event
from tests.factories import StaffUserFactory
from tests.webhooks.receiver import Receiver
from users.services import create_token
from webhooks.models import Delivery
from webhooks.selectors import WANTED_TYPES_TTL

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def register_webhook(stack, url: str, event_types: list[str]) -> dict:
    """As staff, over HTTP; then waits out the dispatchers' cache of wanted types."""
    token = create_token(StaffUserFactory()).key
    response = requests.post(
        f"{stack.base_url}/api/v1/webhooks",
        json={"url": url, "event_types": event_types},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    # Each dispatching process asks the database again within this long.
    time.sleep(WANTED_TYPES_TTL + 0.5)
    return response.json()


def test_an_order_placed_over_http_reaches_the_receiver_signed(e2e):
    receiver = Receiver().start()
    try:
        endpoint = register_webhook(e2e.stack, receiver.url, ["order.placed", "order.paid"])
        receiver.secrets = [endpoint["secret"]]

        order = e2e.place_order({"MUG-01": 1})
        e2e.wait_status(order["id"], "paid")
        e2e.stack.wait_for(lambda: len(receiver.all()) >= 2, "order.placed and order.paid at the receiver")
        e2e.stack.wait_for(
            lambda: not Delivery.objects.exclude(status="delivered").exists(), "both deliveries marked delivered"
        )
    finally:
        receiver.stop()

    events = {e.type: e for e in Event.objects.filter(stream=f"order:{order['id']}")}
    got = {r.envelope["type"]: r for r in receiver.all()}
    assert sorted(got) == ["order.paid", "order.placed"]
    assert len(receiver.all()) == 2
    for type_name, received in got.items():
        assert received.verified == (True,), f"{type_name}: standardwebhooks verifies it"
        assert received.webhook_id == str(events[type_name].key)
        assert received.envelope["data"]["order_id"] == order["id"]
