"""Every field of every write endpoint, given bad input: a 400 naming the field, and
nothing written anywhere (no row in any table, no stock moved).

The bad values are generated from each endpoint's input serializer, so a field added
to a serializer is covered without touching this file; the writes come from
``tests.testkit.api_routes``, so a write endpoint added to the URL conf fails
``test_every_write_with_a_body_has_its_input_serializer_here`` until it is listed.
"""

import pytest
from rest_framework import serializers

from catalog.serializers import ProductCreateInput, ProductUpdateInput
from orders.serializers import OrderInput
from support.serializers import QuestionInput
from tests.testkit.api_routes import WRITE_CALLS, every_row, missing_write_calls
from users.serializers import RegisterInput, TokenInput
from webhooks.serializers import EndpointCreateInput, EndpointUpdateInput

pytestmark = pytest.mark.django_db

TOO_BIG_INT = 2**63

# The input serializer of each write that takes a body (the others take none).
INPUTS = {
    ("register", "POST"): RegisterInput,
    ("token", "POST"): TokenInput,
    ("product-list", "POST"): ProductCreateInput,
    ("product-detail", "PATCH"): ProductUpdateInput,
    ("order-list", "POST"): OrderInput,
    ("question-list", "POST"): QuestionInput,
    ("webhook-list", "POST"): EndpointCreateInput,
    ("webhook-detail", "PATCH"): EndpointUpdateInput,
}
# A complete valid body for each (the calls' own bodies may leave optional fields out).
FULL_BODIES = {
    ("webhook-list", "POST"): {"description": "d"},
    ("webhook-detail", "PATCH"): {"url": "https://93.184.215.14/h", "description": "d", "enabled": True},
    ("product-list", "POST"): {"currency": "EUR", "stock": 1, "is_active": True},
    ("product-detail", "PATCH"): {"price": "1.00", "currency": "EUR", "stock": 1, "is_active": True},
}


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
    for write, serializer in INPUTS.items():
        name = "-".join(write)
        for field_name, field in serializer().fields.items():
            for label, value in bad_values(field):
                yield pytest.param(write, field_name, {field_name: value}, id=f"{name}-{field_name}-{label}")
            if field.required:
                yield pytest.param(write, field_name, {field_name: ...}, id=f"{name}-{field_name}-missing")
            if isinstance(field, serializers.ListSerializer):  # each field of one item
                for item_name, item_field in field.child.fields.items():
                    for label, value in bad_values(item_field):
                        case = {field_name: [{item_name: value}]}
                        yield pytest.param(write, field_name, case, id=f"{name}-{field_name}.{item_name}-{label}")


def body_with(valid: dict, change: dict) -> dict:
    """``valid`` with ``change`` applied: ``...`` removes a field; a one-item list
    changes that field of the first item."""
    body = dict(valid)
    for name, value in change.items():
        if value is ...:
            body.pop(name)
        elif isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and value[0]:
            body[name] = [{**valid[name][0], **value[0]}]
        else:
            body[name] = value
    return body


@pytest.mark.parametrize(("write", "field", "change"), list(cases()))
def test_bad_input_is_400_naming_the_field_and_writes_nothing(write, field, change):
    call = WRITE_CALLS[write]()
    body = body_with({**call.body, **FULL_BODIES.get(write, {})}, change)
    before = every_row()

    response = call.send(body)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert every_row() == before


@pytest.mark.parametrize("write", sorted(INPUTS))
def test_a_body_that_is_not_a_json_object_is_400(write):
    call = WRITE_CALLS[write]()
    before = every_row()
    for body in (b"[1, 2]", b'"text"', b"{not json", b"null"):
        response = call.send(body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["code"] in {"invalid", "parse_error"}
    assert every_row() == before


def test_every_write_with_a_body_has_its_input_serializer_here():
    assert not missing_write_calls()
    bodiless = {write for write in WRITE_CALLS if write not in INPUTS}
    assert bodiless, "the writes without a body are found from WRITE_CALLS"
    for write in bodiless:
        assert WRITE_CALLS[write]().body == {}, f"{write} takes a body: add its input serializer to INPUTS"
    assert len(list(cases())) > 5 * len(INPUTS)
