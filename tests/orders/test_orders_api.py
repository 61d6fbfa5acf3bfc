import json
from decimal import Decimal

import pytest

from catalog.models import Product
from events.models import Event, HandlerRun
from orders.models import IdempotencyKey, Order, OrderLine
from tests.factories import ProductFactory, StaffUserFactory, UserFactory, place_order
from tests.testkit.clients import client_for

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


def order_url(order_id: int, action: str = "") -> str:
    return f"{ORDERS}/{order_id}" + (f"/{action}" if action else "")


@pytest.fixture
def tee(db):
    return ProductFactory(sku="TEE-01", name="T-shirt", price=Decimal("19.90"), stock=5)


def assert_nothing_written(*products_and_stock: tuple[Product, int]) -> None:
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()
    assert not Event.objects.exists()
    assert not HandlerRun.objects.exists()
    assert not IdempotencyKey.objects.exists()
    for product, stock in products_and_stock:
        assert Product.objects.get(pk=product.pk).stock == stock


# --- Placing an order -------------------------------------------------------------------


def test_placing_an_order_answers_201_priced_from_the_catalog(shopper_client, mug, tee):
    response = shopper_client.post(
        ORDERS,
        {
            "items": [{"sku": "MUG-01", "quantity": 2}, {"sku": "TEE-01", "quantity": 1}],
            "payment_token": "tok_ok",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get()
    assert body == {
        "id": order.pk,
        "status": "pending",
        "total": "45.70",
        "currency": "EUR",
        "items": [
            {"sku": "MUG-01", "name": "Mug", "quantity": 2, "unit_price": "12.90", "line_total": "25.80"},
            {"sku": "TEE-01", "name": "T-shirt", "quantity": 1, "unit_price": "19.90", "line_total": "19.90"},
        ],
        "created_at": body["created_at"],
    }
    assert body["created_at"].startswith(order.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert order.total == Decimal("45.70")
    assert [Product.objects.get(pk=p.pk).stock for p in (mug, tee)] == [8, 4]


def test_placing_an_order_records_order_placed_in_the_outbox(shopper, shopper_client, mug):
    response = shopper_client.post(ORDERS, {"items": [{"sku": "MUG-01", "quantity": 2}]}, format="json")

    event = Event.objects.get()
    assert (event.type, event.stream, event.dispatched_at) == ("order.placed", f"order:{response.json()['id']}", None)
    assert event.payload == {
        "order_id": response.json()["id"],
        "customer_id": shopper.customer.pk,
        "total": "25.80",
        "currency": "EUR",
        "payment_token": "tok_ok",
        "lines": [{"sku": "MUG-01", "quantity": 2, "unit_price": "12.90"}],
    }


def test_the_payment_token_reaches_the_event(shopper_client, mug):
    shopper_client.post(ORDERS, {"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": "tok_declined"}, "json")

    assert Event.objects.get().payload["payment_token"] == "tok_declined"


def test_a_staff_account_without_a_profile_can_shop(mug):
    staff = StaffUserFactory()

    response = client_for(staff).post(ORDERS, {"items": [{"sku": "MUG-01", "quantity": 1}]}, format="json")

    assert response.status_code == 201
    assert Order.objects.get().customer.user == staff


def test_placing_an_order_needs_credentials(api_client, mug):
    response = api_client.post(ORDERS, {"items": [{"sku": "MUG-01", "quantity": 1}]}, format="json")

    assert response.status_code == 401
    assert_nothing_written((mug, 10))


TOO_MANY_LINES = [{"sku": f"SKU-{i:03d}", "quantity": 1} for i in range(51)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"items": [{"sku": "NOPE-01", "quantity": 1}]}, "items", id="unknown-sku"),
        pytest.param(
            {"items": [{"sku": "MUG-01", "quantity": 1}, {"sku": "NOPE-01", "quantity": 1}]},
            "items",
            id="unknown-sku-beside-a-good-line",
        ),
        pytest.param({"items": [{"sku": "OLD-01", "quantity": 1}]}, "items", id="inactive-product"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": 0}]}, "items", id="quantity-zero"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": -3}]}, "items", id="quantity-negative"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": 1001}]}, "items", id="quantity-too-big"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": 10**30}]}, "items", id="quantity-huge"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": 11}]}, "items", id="not-enough-stock"),
        pytest.param(
            {"items": [{"sku": "MUG-01", "quantity": 10}, {"sku": "CAP-01", "quantity": 2}]},
            "items",
            id="one-line-short-of-stock",
        ),
        pytest.param(
            {"items": [{"sku": "MUG-01", "quantity": 1}, {"sku": "MUG-01", "quantity": 2}]},
            "items",
            id="duplicate-sku-line",
        ),
        pytest.param({"items": TOO_MANY_LINES}, "items", id="too-many-lines"),
        pytest.param({"items": []}, "items", id="empty-items"),
        pytest.param({}, "items", id="missing-items"),
        pytest.param({"payment_token": "tok_ok"}, "items", id="only-a-token"),
        pytest.param({"items": None}, "items", id="items-null"),
        pytest.param({"items": "MUG-01"}, "items", id="items-a-string"),
        pytest.param({"items": {"sku": "MUG-01", "quantity": 1}}, "items", id="items-an-object"),
        pytest.param({"items": [1]}, "items", id="item-not-an-object"),
        pytest.param({"items": [{"sku": "MUG-01"}]}, "items", id="item-without-quantity"),
        pytest.param({"items": [{"quantity": 1}]}, "items", id="item-without-sku"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": "two"}]}, "items", id="quantity-a-word"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": 1.5}]}, "items", id="quantity-a-fraction"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": None}]}, "items", id="quantity-null"),
        pytest.param({"items": [{"sku": "MUG-01", "quantity": True}]}, "items", id="quantity-a-boolean"),
        pytest.param({"items": [{"sku": ["MUG-01"], "quantity": 1}]}, "items", id="sku-a-list"),
        pytest.param({"items": [{"sku": "", "quantity": 1}]}, "items", id="sku-empty"),
        pytest.param({"items": [{"sku": "M" * 65, "quantity": 1}]}, "items", id="sku-too-long"),
        pytest.param(
            {"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": None}, "payment_token", id="token-null"
        ),
        pytest.param(
            {"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": {}}, "payment_token", id="token-obj"
        ),
        pytest.param(
            {"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": "t" * 101}, "payment_token", id="token-long"
        ),
        pytest.param([{"sku": "MUG-01", "quantity": 1}], "non_field_errors", id="body-a-list"),
        pytest.param("MUG-01", "non_field_errors", id="body-a-string"),
        pytest.param(42, "non_field_errors", id="body-a-number"),
        pytest.param(None, "non_field_errors", id="body-null"),
    ],
)
def test_invalid_order_is_400_naming_the_field_and_stores_nothing(shopper_client, mug, body, field):
    cap = ProductFactory(sku="CAP-01", stock=1)
    ProductFactory(sku="OLD-01", stock=5, is_active=False)

    response = shopper_client.post(ORDERS, json.dumps(body), content_type="application/json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field], error
    assert_nothing_written((mug, 10), (cap, 1))


def test_not_enough_stock_says_what_is_short(shopper_client, mug):
    response = shopper_client.post(ORDERS, {"items": [{"sku": "MUG-01", "quantity": 11}]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"items": ["not enough stock: MUG-01 (asked 11, 10 left)"]}


def test_an_order_mixing_currencies_is_400_and_reserves_nothing(shopper_client, mug):
    usd = ProductFactory(sku="USD-01", currency="USD", stock=3)

    response = shopper_client.post(
        ORDERS, {"items": [{"sku": "MUG-01", "quantity": 1}, {"sku": "USD-01", "quantity": 1}]}, format="json"
    )

    assert response.status_code == 400
    assert "items" in response.json()["error"]["fields"]
    assert_nothing_written((mug, 10), (usd, 3))


def test_a_body_that_is_not_json_is_400(shopper_client, mug):
    response = shopper_client.post(ORDERS, '{"items": [', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert "JSON" in response.json()["error"]["message"]
    assert_nothing_written((mug, 10))


def test_a_body_that_is_not_json_at_all_is_415(shopper_client, mug):
    response = shopper_client.post(ORDERS, "sku=MUG-01&quantity=1", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert_nothing_written((mug, 10))


def test_an_oversized_body_is_413(shopper_client, mug, settings):
    body = json.dumps(
        {"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": "t" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    )

    response = shopper_client.post(ORDERS, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert_nothing_written((mug, 10))


# --- Reading orders ---------------------------------------------------------------------


def test_the_list_shows_only_the_callers_orders_newest_first(shopper, shopper_client, mug):
    first = place_order(shopper.customer, {mug: 1})
    place_order(UserFactory().customer, {mug: 1})
    second = place_order(shopper.customer, {mug: 2})

    response = shopper_client.get(ORDERS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [o["id"] for o in body["results"]] == [second.pk, first.pk]
    assert body["results"][0]["items"] == [
        {"sku": "MUG-01", "name": "Mug", "quantity": 2, "unit_price": "12.90", "line_total": "25.80"}
    ]


def test_a_staff_account_without_a_profile_has_no_orders(staff_client, mug):
    place_order(UserFactory().customer, {mug: 1})

    response = staff_client.get(ORDERS)

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_the_detail_shows_what_placing_answered(shopper_client, mug):
    placed = shopper_client.post(ORDERS, {"items": [{"sku": "MUG-01", "quantity": 2}]}, format="json").json()

    response = shopper_client.get(order_url(placed["id"]))

    assert response.status_code == 200
    assert response.json() == placed


@pytest.mark.parametrize(("method", "action"), [("get", ""), ("post", "cancel"), ("get", "events")])
def test_another_customers_order_is_404(shopper_client, mug, method, action):
    theirs = place_order(UserFactory().customer, {mug: 1})

    response = getattr(shopper_client, method)(order_url(theirs.pk, action))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.status == Order.Status.PENDING


@pytest.mark.parametrize(("method", "action"), [("get", ""), ("post", "cancel"), ("get", "events")])
def test_an_order_that_does_not_exist_is_404(shopper_client, method, action):
    assert getattr(shopper_client, method)(order_url(999_999, action)).status_code == 404


@pytest.mark.parametrize(("method", "url"), [("get", ORDERS), ("get", order_url(1)), ("post", order_url(1, "cancel"))])
def test_reading_orders_needs_credentials(api_client, method, url):
    assert getattr(api_client, method)(url).status_code == 401


def test_the_timeline_of_a_new_order_is_its_placement(shopper, shopper_client, mug):
    order = place_order(shopper.customer, {mug: 2})

    response = shopper_client.get(order_url(order.pk, "events"))

    assert response.status_code == 200
    results = response.json()["results"]
    assert [e["type"] for e in results] == ["order.placed"]
    assert set(results[0]) == {"type", "occurred_at", "payload"}
    assert results[0]["payload"]["order_id"] == order.pk
    assert results[0]["payload"]["total"] == "25.80"
    # The payment token is for the gateway only; the stored event keeps it.
    assert "payment_token" not in results[0]["payload"]
    assert "payment_token" in Event.objects.get().payload


# --- Cancelling -------------------------------------------------------------------------


def test_cancelling_a_pending_order_puts_its_stock_back(shopper, shopper_client, mug, tee):
    order = place_order(shopper.customer, {mug: 3, tee: 2})

    response = shopper_client.post(order_url(order.pk, "cancel"))

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["id"] == order.pk
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("cancelled", "customer")
    assert [Product.objects.get(pk=p.pk).stock for p in (mug, tee)] == [10, 5]
    cancelled = Event.objects.get(type="order.cancelled")
    assert cancelled.payload == {
        "order_id": order.pk,
        "customer_id": shopper.customer.pk,
        "reason": "customer",
        "was_paid": False,
    }


def test_cancelling_twice_is_409_and_releases_stock_once(shopper, shopper_client, mug):
    order = place_order(shopper.customer, {mug: 3})
    assert shopper_client.post(order_url(order.pk, "cancel")).status_code == 200

    response = shopper_client.post(order_url(order.pk, "cancel"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert Product.objects.get(pk=mug.pk).stock == 10
    assert Event.objects.filter(type="order.cancelled").count() == 1
