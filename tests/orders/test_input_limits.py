"""Inputs at the edges of what the database can hold are refused with a 400, never a 500."""

from decimal import Decimal

import pytest

from catalog.models import Product
from orders.models import Order
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


def test_an_order_total_beyond_what_an_order_can_hold_is_400_and_stores_nothing(shopper_client):
    gold = ProductFactory(sku="GOLD-01", price=Decimal("99999999.99"), stock=5000)

    response = shopper_client.post(ORDERS, {"items": [{"sku": "GOLD-01", "quantity": 1000}]}, format="json")

    assert response.status_code == 400
    assert "may not exceed" in response.json()["error"]["fields"]["items"][0]
    assert not Order.objects.exists()
    assert Product.objects.get(pk=gold.pk).stock == 5000


@pytest.mark.parametrize("key", ["has space", "tab\there", "nul\x00byte", "é-accent", "k" * 256])
def test_an_idempotency_key_that_is_not_printable_ascii_is_400_naming_the_header(shopper_client, mug, key):
    response = shopper_client.post(
        ORDERS, {"items": [{"sku": "MUG-01", "quantity": 1}]}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["Idempotency-Key"]
    assert not Order.objects.exists()
    assert Product.objects.get(pk=mug.pk).stock == 10
