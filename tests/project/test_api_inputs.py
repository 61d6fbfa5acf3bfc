"""Input the schema calls invalid is refused with a 400 naming it, not quietly coerced.

Each of these was taken by the server while the schema said otherwise, found by the
Schemathesis run (tests/project/test_api_fuzz.py).
"""

import pytest

from catalog.models import Product
from orders.models import Order
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"
PRODUCTS = "/api/v1/products"
REGISTER = "/api/v1/auth/register"
NEW_PRODUCT = {"sku": "CAP-01", "name": "Cap", "price": "15.00", "stock": 30}


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": 7}, "payment_token"),
        ({"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": True}, "payment_token"),
        ({"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": ["tok_ok"]}, "payment_token"),
    ],
)
def test_a_number_or_list_where_a_string_goes_is_400_not_turned_into_a_string(shopper_client, mug, body, field):
    response = shopper_client.post(ORDERS, body, format="json")

    assert list(fields_of(response)) == [field]
    assert not Order.objects.exists()


@pytest.mark.parametrize("quantity", ["2", 2.0, True])
def test_a_quantity_that_is_not_a_json_integer_is_400_naming_the_line(shopper_client, mug, quantity):
    response = shopper_client.post(ORDERS, {"items": [{"sku": "MUG-01", "quantity": quantity}]}, format="json")

    assert fields_of(response) == {"items": [{"quantity": ["Must be a whole number."]}]}
    assert not Order.objects.exists()


def test_a_sku_that_is_a_number_is_400_naming_the_line_it_is_on(shopper_client, mug):
    body = {"items": [{"sku": "MUG-01", "quantity": 1}, {"sku": 12, "quantity": 1}]}

    response = shopper_client.post(ORDERS, body, format="json")

    assert fields_of(response) == {"items": [{}, {"sku": ["Must be a string."]}]}


@pytest.mark.parametrize("price", [0, 12.5, "-1.00", "1e2", " 12.90", "12.", ".5", "", "12.345", "123456789.00"])
def test_a_price_that_is_not_a_plain_decimal_string_is_400(staff_client, price):
    response = staff_client.post(PRODUCTS, {**NEW_PRODUCT, "price": price}, format="json")

    assert list(fields_of(response)) == ["price"]
    assert not Product.objects.exists()


@pytest.mark.parametrize("price", ["0", "7", "12.9", "12.90", "99999999.99"])
def test_a_plain_decimal_string_is_a_price(staff_client, price):
    response = staff_client.post(PRODUCTS, {**NEW_PRODUCT, "price": price}, format="json")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(("field", "value"), [("is_active", "false"), ("is_active", 0), ("stock", "5")])
def test_a_change_of_the_wrong_json_type_is_400_and_changes_nothing(staff_client, field, value):
    ProductFactory(sku="MUG-01", stock=10)

    response = staff_client.patch(f"{PRODUCTS}/MUG-01", {field: value}, format="json")

    assert list(fields_of(response)) == [field]
    assert Product.objects.get(sku="MUG-01").is_active
    assert Product.objects.get(sku="MUG-01").stock == 10


def test_a_string_over_its_length_is_400_even_when_trimming_would_bring_it_under(staff_client):
    response = staff_client.post(PRODUCTS, {**NEW_PRODUCT, "name": "n" * 200 + " "}, format="json")

    assert list(fields_of(response)) == ["name"]


@pytest.mark.parametrize(
    ("field", "value"), [("username", " ada"), ("username", "ada\n"), ("email", " ada@example.com")]
)
def test_a_username_or_email_with_surrounding_space_is_400_as_its_pattern_says(api_client, field, value):
    body = {"username": "ada", "email": "ada@example.com", "password": "a long passphrase", field: value}

    assert list(fields_of(api_client.post(REGISTER, body, format="json"))) == [field]


@pytest.mark.parametrize(("field", "value"), [("sku", "CAP-01 "), ("currency", " EUR")])
def test_a_sku_or_currency_with_surrounding_space_is_400_as_its_pattern_says(staff_client, field, value):
    assert list(fields_of(staff_client.post(PRODUCTS, {**NEW_PRODUCT, field: value}, format="json"))) == [field]


def test_an_empty_idempotency_key_is_400_not_taken_as_no_key(shopper_client, mug):
    response = shopper_client.post(
        ORDERS, {"items": [{"sku": "MUG-01", "quantity": 1}]}, format="json", HTTP_IDEMPOTENCY_KEY=""
    )

    assert list(fields_of(response)) == ["Idempotency-Key"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page_size=abc", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=", "page_size"),
        ("page_size=5&page_size=6", "page_size"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=last", "page"),
        ("page=1.0", "page"),
        ("page=1&page=1", "page"),
    ],
)
def test_a_page_or_page_size_that_is_not_a_whole_number_in_range_is_400_naming_it(api_client, query, name):
    assert list(fields_of(api_client.get(f"{PRODUCTS}?{query}"))) == [name]


def test_page_size_sets_the_page_and_a_page_past_the_last_is_404(api_client):
    for n in range(3):
        ProductFactory(sku=f"P-{n}")

    first = api_client.get(f"{PRODUCTS}?page_size=2")
    second = api_client.get(f"{PRODUCTS}?page_size=2&page=2")
    past = api_client.get(f"{PRODUCTS}?page_size=2&page=3")

    assert [len(r.json()["results"]) for r in (first, second)] == [2, 1]
    assert past.status_code == 404
    assert past.json()["error"]["code"] == "not_found"


def test_staff_read_an_inactive_product_they_can_change(staff_client, api_client):
    ProductFactory(sku="OLD-01", is_active=False)

    assert staff_client.get(f"{PRODUCTS}/OLD-01").status_code == 200
    assert api_client.get(f"{PRODUCTS}/OLD-01").status_code == 404
