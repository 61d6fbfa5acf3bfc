"""The public envelope: what other systems see of an event, the same on every channel."""

import json

import pytest

from events import public
from events.models import Event
from tests.factories import place_order


@pytest.fixture
def placed(shopper, mug) -> Event:
    order = place_order(shopper.customer, {mug: 2}, payment_token="tok_secret_4242")
    return Event.objects.get(stream=f"order:{order.pk}", type="order.placed")


def test_a_public_event_leaves_as_the_documented_envelope_without_private_fields(placed):
    sent = public.envelope(placed)

    assert set(sent) == {"id", "type", "version", "occurred_at", "subject", "sequence", "data"}
    assert sent["sequence"] == placed.pk
    assert sent["id"] == str(placed.key)
    assert sent["type"] == "order.placed"
    assert sent["version"] == 1
    assert sent["subject"] == placed.stream
    assert sent["data"]["order_id"] == int(placed.stream.split(":")[1])
    assert sent["data"]["total"] == "25.80"
    assert sent["data"]["lines"] == [{"sku": "MUG-01", "quantity": 2, "unit_price": "12.90"}]
    assert "payment_token" not in sent["data"]
    assert "tok_secret_4242" not in public.envelope_json(placed).decode()


def test_the_envelope_is_the_same_bytes_on_every_send(placed):
    first = public.envelope_json(placed)
    again = public.envelope_json(Event.objects.get(pk=placed.pk))

    assert first == again
    assert json.loads(first) == public.envelope(placed)


def test_an_internal_event_type_has_no_envelope(placed):
    placed.type = "tests.not_public"

    with pytest.raises(ValueError, match="not a public event type"):
        public.envelope(placed)


def test_a_public_type_no_app_declares_is_refused_at_start(monkeypatch):
    from events.checks import check_public_event_types

    assert check_public_event_types() == []
    monkeypatch.setattr(public, "PUBLIC_EVENT_TYPES", (*public.PUBLIC_EVENT_TYPES, "order.teleported"))

    [error] = check_public_event_types()
    assert error.id == "events.E002"
    assert "order.teleported" in error.msg
