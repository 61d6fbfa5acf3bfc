from decimal import Decimal

import pytest

from catalog.models import Product
from tests.factories import ProductFactory, UserFactory
from tests.testkit.clients import client_for

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products"


def product_url(sku: str) -> str:
    return f"{PRODUCTS}/{sku}"


NEW_PRODUCT = {"sku": "CAP-01", "name": "Cap", "price": "15.00", "currency": "eur", "stock": 30}


def test_anyone_lists_the_active_catalog_in_sku_order(api_client):
    ProductFactory(sku="TEE-01", name="T-shirt", price=Decimal("19.90"), stock=5)
    mug = ProductFactory(sku="MUG-01", name="Mug", price=Decimal("12.90"), stock=10)
    ProductFactory(sku="OLD-01", is_active=False)

    response = api_client.get(PRODUCTS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert (body["next"], body["previous"]) == (None, None)
    assert [p["sku"] for p in body["results"]] == ["MUG-01", "TEE-01"]
    assert body["results"][0] == {
        "id": mug.pk,
        "sku": "MUG-01",
        "name": "Mug",
        "price": "12.90",
        "currency": "EUR",
        "stock": 10,
    }


def test_anyone_gets_one_product_by_sku(api_client, mug):
    response = api_client.get(product_url("MUG-01"))

    assert response.status_code == 200
    assert response.json()["sku"] == "MUG-01"
    assert response.json()["price"] == "12.90"


@pytest.mark.parametrize("sku", ["NOPE-01", "OLD-01"])
def test_an_unknown_or_inactive_product_is_404(api_client, sku):
    ProductFactory(sku="OLD-01", is_active=False)

    response = api_client.get(product_url(sku))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_staff_add_a_product(staff_client):
    response = staff_client.post(PRODUCTS, NEW_PRODUCT, format="json")

    assert response.status_code == 201
    product = Product.objects.get(sku="CAP-01")
    assert response.json() == {
        "id": product.pk,
        "sku": "CAP-01",
        "name": "Cap",
        "price": "15.00",
        "currency": "EUR",
        "stock": 30,
    }


def test_a_product_added_without_currency_gets_the_default_one(staff_client, settings):
    body = {k: v for k, v in NEW_PRODUCT.items() if k != "currency"}

    response = staff_client.post(PRODUCTS, body, format="json")

    assert response.status_code == 201
    assert response.json()["currency"] == settings.DEFAULT_CURRENCY


def test_a_shopper_may_not_add_a_product(shopper_client):
    response = shopper_client.post(PRODUCTS, NEW_PRODUCT, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Product.objects.exists()


def test_an_anonymous_client_must_log_in_to_add_a_product(api_client):
    response = api_client.post(PRODUCTS, NEW_PRODUCT, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sku": "bad sku!"}, "sku"),
        ({"sku": ""}, "sku"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"price": "-1.00"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "1.999"}, "price"),
        ({"currency": "EURO"}, "currency"),
        ({"stock": -1}, "stock"),
        ({"stock": "many"}, "stock"),
        ({"is_active": "perhaps"}, "is_active"),
    ],
)
def test_bad_product_input_is_400_naming_the_field(staff_client, change, field):
    response = staff_client.post(PRODUCTS, {**NEW_PRODUCT, **change}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    assert not Product.objects.exists()


@pytest.mark.parametrize("field", ["sku", "name", "price"])
def test_a_missing_required_product_field_is_400_naming_it(staff_client, field):
    body = {k: v for k, v in NEW_PRODUCT.items() if k != field}

    response = staff_client.post(PRODUCTS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize("sku", ["MUG-01", "mug-01"])
def test_a_duplicate_sku_is_400(staff_client, mug, sku):
    response = staff_client.post(PRODUCTS, {**NEW_PRODUCT, "sku": sku}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["sku"]
    assert Product.objects.count() == 1


def test_staff_change_a_product(staff_client, mug):
    response = staff_client.patch(product_url("MUG-01"), {"price": "11.50", "stock": 4}, format="json")

    assert response.status_code == 200
    assert response.json()["price"] == "11.50"
    assert response.json()["stock"] == 4
    mug.refresh_from_db()
    assert (mug.price, mug.stock, mug.name) == (Decimal("11.50"), 4, "Mug")


def test_staff_can_hide_a_product_and_bring_it_back(staff_client, api_client, mug):
    assert staff_client.patch(product_url("MUG-01"), {"is_active": False}, format="json").status_code == 200
    assert api_client.get(product_url("MUG-01")).status_code == 404

    assert staff_client.patch(product_url("MUG-01"), {"is_active": True}, format="json").status_code == 200
    assert api_client.get(product_url("MUG-01")).status_code == 200


def test_a_shopper_may_not_change_a_product(shopper_client, mug):
    response = shopper_client.patch(product_url("MUG-01"), {"price": "0.01"}, format="json")

    assert response.status_code == 403
    mug.refresh_from_db()
    assert mug.price == Decimal("12.90")


def test_an_anonymous_client_may_not_change_a_product(api_client, mug):
    response = api_client.patch(product_url("MUG-01"), {"price": "0.01"}, format="json")

    assert response.status_code == 401
    mug.refresh_from_db()
    assert mug.price == Decimal("12.90")


@pytest.mark.parametrize(
    ("change", "field"),
    [({"price": "-0.01"}, "price"), ({"name": ""}, "name"), ({"stock": -5}, "stock"), ({"currency": "E1"}, "currency")],
)
def test_a_bad_change_is_400_naming_the_field_and_changes_nothing(staff_client, mug, change, field):
    response = staff_client.patch(product_url("MUG-01"), change, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    mug.refresh_from_db()
    assert (mug.price, mug.name, mug.stock, mug.currency) == (Decimal("12.90"), "Mug", 10, "EUR")


def test_changing_an_unknown_product_is_404(staff_client):
    response = staff_client.patch(product_url("NOPE-01"), {"price": "1.00"}, format="json")

    assert response.status_code == 404


def test_a_staff_account_with_a_customer_profile_is_still_staff(db):
    """Being a shopper too does not take away the right to edit the catalog."""
    user = UserFactory(is_staff=True)

    response = client_for(user).post(PRODUCTS, NEW_PRODUCT, format="json")

    assert response.status_code == 201


def test_a_sku_differing_only_in_case_from_an_existing_one_is_400(staff_client, mug):
    response = staff_client.post(
        "/api/v1/products", {"sku": "mug-01", "name": "Other mug", "price": "1.00"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["sku"]
    assert Product.objects.filter(sku__iexact="mug-01").count() == 1
