"""A request body may hold only the fields the call takes: any other key (``status``,
``total``, ``customer``, ``unit_price``, ``id``, ...) is a 400 naming it, and nothing is
written. Every write of the API (from the URL conf) is checked, and the nested item
objects of an order too."""

import pytest
from rest_framework import serializers

from orders.models import Order
from project.api import InputSerializer, validated
from tests.factories import PASSWORD, ProductFactory
from tests.testkit.api_routes import WRITE_CALLS, every_row, missing_write_calls
from users.models import User

pytestmark = pytest.mark.django_db

WRITES = sorted(WRITE_CALLS)
IDS = [f"{method} {name}" for name, method in WRITES]
# Fields a client might hope to set: none of them is any call's input.
SMUGGLED = {"id": 7, "status": "paid", "customer": 1, "is_staff": True, "points": 1000}


def test_every_write_of_the_api_is_checked_here():
    assert missing_write_calls() == set()


@pytest.mark.parametrize("write", WRITES, ids=IDS)
def test_each_write_accepts_its_own_fields(write):
    call = WRITE_CALLS[write]()

    response = call.send(call.body)

    assert 200 <= response.status_code < 300, response.content


@pytest.mark.parametrize("write", WRITES, ids=IDS)
def test_a_field_the_call_does_not_take_is_400_naming_it_and_writes_nothing(write):
    call = WRITE_CALLS[write]()
    before = every_row()

    response = call.send({**call.body, **SMUGGLED})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {name: ["Unknown field."] for name in SMUGGLED}
    assert every_row() == before


def test_an_order_naming_its_own_prices_and_total_is_400_and_stores_nothing(shopper_client):
    mug = ProductFactory(sku="MUG-01", stock=10)

    response = shopper_client.post(
        "/api/v1/orders",
        {"items": [{"sku": "MUG-01", "quantity": 2, "unit_price": "0.01"}], "total": "0.02", "currency": "XXX"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "items": {"0": {"unit_price": ["Unknown field."]}},
        "total": ["Unknown field."],
        "currency": ["Unknown field."],
    }
    assert not Order.objects.exists()
    mug.refresh_from_db()
    assert mug.stock == 10


def test_an_unknown_field_is_named_beside_the_other_mistakes(shopper_client):
    response = shopper_client.post(
        "/api/v1/orders", {"items": [{"sku": "MUG-01", "quantity": 0, "line_total": "1"}], "status": "paid"}, "json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "items": {
            "0": {"quantity": ["Ensure this value is greater than or equal to 1."], "line_total": ["Unknown field."]}
        },
        "status": ["Unknown field."],
    }


def test_registering_as_staff_is_refused(api_client):
    body = {"username": "mallory", "email": "m@example.com", "password": PASSWORD, "is_superuser": True}

    response = api_client.post("/api/v1/auth/register", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"is_superuser": ["Unknown field."]}
    assert not User.objects.exists()


def test_a_read_only_field_is_named_as_such():
    class Rename(InputSerializer):
        id = serializers.IntegerField(read_only=True)
        name = serializers.CharField()

    with pytest.raises(serializers.ValidationError) as refused:
        validated(Rename, {"id": 3, "name": "x"})

    assert refused.value.detail == {"id": ["This field is read-only."]}


def test_a_nested_input_that_would_drop_unknown_keys_is_refused_when_the_class_is_made():
    class Loose(serializers.Serializer):
        sku = serializers.CharField()

    with pytest.raises(TypeError, match=r"Strict\.items: a nested input must be an InputSerializer"):

        class Strict(InputSerializer):
            items = Loose(many=True)


def test_only_input_serializers_validate_request_bodies():
    class Loose(serializers.Serializer):
        name = serializers.CharField()

    with pytest.raises(TypeError, match=r"must be a project\.api\.InputSerializer"):
        validated(Loose, {"name": "x"})
