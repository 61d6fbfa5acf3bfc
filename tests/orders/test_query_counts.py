"""What placing an order costs the database, counted: the same few statements however
many lines the order has, and nothing but the order's own writes (no broker, no
handler runs: those are the dispatcher's)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from tests.factories import ProductFactory, UserFactory
from tests.testkit.clients import client_for

pytestmark = pytest.mark.django_db


def place(client, products: list[Product]) -> list[str]:
    """POST an order with a line for each product; the statements it ran."""
    body = {"items": [{"sku": p.sku, "quantity": 1} for p in products]}
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()["items"]) == len(products)
    return [q["sql"] for q in queries.captured_queries]


def test_placing_an_order_runs_the_same_statements_for_one_line_or_fifty():
    client = client_for(UserFactory())
    products = [ProductFactory(stock=10) for _ in range(50)]
    place(client, products[:1])  # the first request of a client warms what is cached

    one = place(client, products[:1])
    ten = place(client, products[:10])
    fifty = place(client, products)

    assert len(one) == len(ten) == len(fifty)
    writes = [m.groups() for sql in fifty if (m := re.match(r'(INSERT INTO|UPDATE) "(\w+)"', sql))]
    assert writes == [
        ("UPDATE", "catalog_product"),
        ("INSERT INTO", "orders_order"),
        ("INSERT INTO", "orders_orderline"),
        ("INSERT INTO", "events_event"),
    ]
    # The token and its user and customer come in one read; the products are locked
    # in one; nothing reads the lines back for the answer.
    reads = [sql for sql in fifty if sql.startswith("SELECT")]
    assert len(reads) == 2
    assert "users_apitoken" in reads[0]
    assert "customers_customer" in reads[0]
    assert "catalog_product" in reads[1]
    assert ("FOR UPDATE" in reads[1]) == connection.features.has_select_for_update
