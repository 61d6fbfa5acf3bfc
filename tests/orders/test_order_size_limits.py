"""An order holds at most ORDER_MAX_LINES lines of at most ORDER_MAX_QUANTITY each:
exactly the limit is accepted, one more is a 400 naming the field, with nothing stored."""

import pytest
from django.conf import settings

from catalog.models import Product
from orders.models import Order

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


def _products(count: int, stock: int) -> list[str]:
    skus = [f"LIM-{n:03d}" for n in range(count)]
    Product.objects.bulk_create(Product(sku=sku, name=sku, price="1.00", stock=stock) for sku in skus)
    return skus


def test_the_most_lines_an_order_may_have_are_accepted_and_one_more_is_400(shopper_client):
    skus = _products(settings.ORDER_MAX_LINES + 1, stock=5)
    items = [{"sku": sku, "quantity": 1} for sku in skus]

    refused = shopper_client.post(ORDERS, {"items": items}, format="json")

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "items": {"non_field_errors": [f"Ensure this field has no more than {settings.ORDER_MAX_LINES} elements."]}
    }
    assert not Order.objects.exists()
    assert shopper_client.post(ORDERS, {"items": items[:-1]}, format="json").status_code == 201


def test_the_largest_quantity_is_accepted_and_one_more_is_400_naming_the_line(shopper_client):
    (sku,) = _products(1, stock=settings.ORDER_MAX_QUANTITY + 1)

    refused = shopper_client.post(
        ORDERS, {"items": [{"sku": sku, "quantity": settings.ORDER_MAX_QUANTITY + 1}]}, format="json"
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "items": {"0": {"quantity": [f"Ensure this value is less than or equal to {settings.ORDER_MAX_QUANTITY}."]}}
    }
    assert not Order.objects.exists()
    accepted = shopper_client.post(ORDERS, {"items": [{"sku": sku, "quantity": settings.ORDER_MAX_QUANTITY}]}, "json")
    assert accepted.status_code == 201
