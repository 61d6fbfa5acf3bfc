"""Every field of every write endpoint, given bad input: a 400 naming the field, and
nothing written anywhere (no row in any table, no stock moved).

The bad values are generated from each endpoint's input serializer, so a field added
to a serializer is covered without touching this file; a write endpoint added to the
URL conf fails ``test_every_write_endpoint_is_covered`` until it is listed here.
"""

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import serializers

from catalog.serializers import ProductCreateInput, ProductUpdateInput
from orders.serializers import OrderInput
from tests.conftest import client_for
from tests.factories import ProductFactory, StaffUserFactory, UserFactory
from users.serializers import RegisterInput, TokenInput

pytestmark = pytest.mark.django_db

API = "/api/v1/"
TOO_BIG_INT = 2**63


@dataclass(frozen=True)
class WriteEndpoint:
    name: str  # the URL name in the api namespace
    method: str
    path: str
    serializer: type[serializers.Serializer]
    valid: dict
    caller: str  # "anonymous", "shopper" or "staff"


WRITES = [
    WriteEndpoint(
        "register",
        "post",
        "auth/register",
        RegisterInput,
        {"username": "newcomer", "email": "newcomer@example.com", "password": "plum-Kettle-4729"},
        "anonymous",
    ),
    WriteEndpoint("token", "post", "auth/token", TokenInput, {"username": "x", "password": "y"}, "anonymous"),
    WriteEndpoint(
        "product-list",
        "post",
        "products",
        ProductCreateInput,
        {"sku": "NEW-01", "name": "New", "price": "1.00", "currency": "EUR", "stock": 1, "is_active": True},
        "staff",
    ),
    WriteEndpoint(
        "product-detail",
        "patch",
        "products/MUG-01",
        ProductUpdateInput,
        {"name": "Mug", "price": "1.00", "currency": "EUR", "stock": 1, "is_active": True},
        "staff",
    ),
    WriteEndpoint(
        "order-list",
        "post",
        "orders",
        OrderInput,
        {"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": "tok_ok"},
        "shopper",
    ),
]
# Write endpoints that take no body: nothing a client sends can be bad but the id.
BODILESS_WRITES = {"order-cancel", "notification-read", "logout"}


def bad_values(field: serializers.Field) -> list[tuple[str, object]]:
    """(label, value) pairs the field must refuse, from its own declared limits."""
    values: list[tuple[str, object]] = [("null", None)] if not field.allow_null else []
    if isinstance(field, serializers.ListSerializer):
        values += [("not-a-list", "x"), ("a-list-of-strings", ["x"])]
        if not field.allow_empty:
            values.append(("empty", []))
        if field.max_length is not None:
            values.append(("too-many", [{}] * (field.max_length + 1)))
        return values
    if isinstance(field, serializers.Serializer):
        return [*values, ("not-an-object", "x"), ("a-list", [])]
    values += [("object", {"a": 1}), ("list", [1])]
    if isinstance(field, serializers.BooleanField):
        values.append(("not-a-boolean", "maybe"))
    elif isinstance(field, serializers.IntegerField):
        values += [("text", "many"), ("fraction", 1.5), ("huge", TOO_BIG_INT)]
        if field.min_value is not None:
            values.append(("below-min", field.min_value - 1))
        if field.max_value is not None:
            values.append(("above-max", field.max_value + 1))
    elif isinstance(field, serializers.DecimalField):
        values += [("text", "cheap"), ("too-many-places", "1.001"), ("too-many-digits", "9" * (field.max_digits + 1))]
        if field.min_value is not None:
            values.append(("below-min", str(field.min_value - 1)))
    elif isinstance(field, serializers.CharField):  # also Email and Regex fields
        if not field.allow_blank:
            values.append(("blank", ""))
        if field.max_length is not None:
            values.append(("too-long", "a" * (field.max_length + 1)))
        if isinstance(field, serializers.EmailField):
            values.append(("not-an-email", "not-an-email"))
        if isinstance(field, serializers.RegexField):
            values.append(("no-match", "no match!"))
    return values


def cases():
    for endpoint in WRITES:
        fields = endpoint.serializer().fields
        for name, field in fields.items():
            for label, value in bad_values(field):
                body = {**endpoint.valid, name: value}
                yield pytest.param(endpoint, name, body, id=f"{endpoint.name}-{name}-{label}")
            if field.required:
                body = {k: v for k, v in endpoint.valid.items() if k != name}
                yield pytest.param(endpoint, name, body, id=f"{endpoint.name}-{name}-missing")
            if isinstance(field, serializers.ListSerializer):  # each field of one item
                item = endpoint.valid[name][0]
                for item_name, item_field in field.child.fields.items():
                    for label, value in bad_values(item_field):
                        body = {**endpoint.valid, name: [{**item, item_name: value}]}
                        yield pytest.param(endpoint, name, body, id=f"{endpoint.name}-{name}.{item_name}-{label}")


def snapshot() -> dict:
    """Row counts of every table, and every product's stock."""
    counts = {model._meta.label: model.objects.count() for model in apps.get_models()}
    stock = dict(apps.get_model("catalog", "Product").objects.values_list("sku", "stock"))
    return {"counts": counts, "stock": stock}


@pytest.mark.parametrize(("endpoint", "field", "body"), list(cases()))
def test_bad_input_is_400_naming_the_field_and_writes_nothing(endpoint, field, body):
    ProductFactory(sku="MUG-01", stock=5)
    caller = {"anonymous": None, "shopper": UserFactory, "staff": StaffUserFactory}[endpoint.caller]
    client = client_for(caller() if caller else None)
    before = snapshot()

    response = getattr(client, endpoint.method)(API + endpoint.path, body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert snapshot() == before


def test_a_body_that_is_not_a_json_object_is_400_for_every_write_endpoint():
    ProductFactory(sku="MUG-01", stock=5)
    for endpoint in WRITES:
        caller = {"anonymous": None, "shopper": UserFactory, "staff": StaffUserFactory}[endpoint.caller]
        client = client_for(caller() if caller else None)
        before = snapshot()
        for body in (b"[1, 2]", b'"text"', b"{not json", b"null"):
            response = getattr(client, endpoint.method)(API + endpoint.path, body, content_type="application/json")
            assert response.status_code == 400, (endpoint.name, body, response.content)
            assert response.json()["error"]["code"] in {"invalid", "parse_error"}
        assert snapshot() == before


def _api_patterns(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _api_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and (prefix + str(entry.pattern)).startswith("api/v1/"):
            yield entry


def test_every_write_endpoint_is_covered():
    covered = {e.name for e in WRITES} | BODILESS_WRITES
    writes = set()
    for pattern in _api_patterns():
        view = getattr(pattern.callback, "view_class", None)
        if view and any(hasattr(view, method) for method in ("post", "put", "patch")):
            writes.add(pattern.name)
    assert writes, "no write endpoint found: the URL walk is broken"
    assert writes <= covered, f"write endpoints without bad-input cases: {sorted(writes - covered)}"
    assert len(list(cases())) > 5 * len(WRITES)
