"""Small helpers every controller uses, and the base of every request body's serializer."""

import re
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

UNKNOWN_FIELD = "Unknown field."
READ_ONLY_FIELD = "This field is read-only."


class InputSerializer(serializers.Serializer):
    """A request body that names a field the call does not take is a 400, not a field
    quietly dropped: a client sending ``status``, ``total`` or ``unit_price`` learns at
    once that it sets none of them (mass assignment), and a typo does not go unnoticed.

    Every serializer given to ``validated`` is one, and so is every serializer nested in
    one (checked when the class is made), so the rule holds at every depth of a body.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, field in cls._declared_fields.items():
            nested = field.child if isinstance(field, serializers.ListSerializer) else field
            if isinstance(nested, serializers.BaseSerializer) and not isinstance(nested, InputSerializer):
                raise TypeError(
                    f"{cls.__qualname__}.{name}: a nested input must be an InputSerializer too, "
                    "or unknown keys inside it would be dropped"
                )

    def to_internal_value(self, data):
        refused = self._refused_keys(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **refused}) from exc
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value

    def _refused_keys(self, data) -> dict[str, list[str]]:
        if not isinstance(data, Mapping):
            return {}  # the base class says what it expected instead
        writable = {field.field_name for field in self._writable_fields}
        return {key: [READ_ONLY_FIELD if key in self.fields else UNKNOWN_FIELD] for key in data if key not in writable}


class NoInput(InputSerializer):
    """For a call that takes no body: any field sent is refused."""


def validated(serializer_class: type[InputSerializer], data, **kwargs) -> dict:
    """Validate request data with ``serializer_class``; a 400 naming the fields if not.

    The JSON types come first (see ``json_type_errors``): DRF alone would take ``5`` for
    a string or ``"5"`` for a number, which the schema does not allow."""
    if not issubclass(serializer_class, InputSerializer):
        raise TypeError(f"{serializer_class.__name__} must be a project.api.InputSerializer")
    serializer = serializer_class(data=data, **kwargs)
    if isinstance(data, dict) and (errors := json_type_errors(serializer, data)):
        raise serializers.ValidationError(errors)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# The JSON type each kind of input field takes; the first match wins (subclasses first).
JSON_TYPES = [
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "a whole number"),
    (serializers.DecimalField, (str,), 'a decimal number in a string, such as "19.90"'),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.CharField, (str,), "a string"),
    (serializers.ListField, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
]


def json_type_errors(field, value):
    """The messages for each input in ``value`` that is not of the JSON type its field
    takes (or, for a string, longer than it takes before trimming), shaped as DRF
    shapes its errors; None if there are none. Null and missing values are left to DRF."""
    if value is None:
        return None
    if isinstance(field, serializers.ListSerializer):
        if not isinstance(value, list):
            return None  # DRF: "Expected a list of items"
        errors = [json_type_errors(field.child, item) or {} for item in value]
        return errors if any(errors) else None
    if isinstance(field, serializers.Serializer):
        if not isinstance(value, dict):
            return None  # DRF: "Invalid data. Expected a dictionary"
        field_errors = {
            name: error
            for name, child in field.fields.items()
            if not child.read_only and name in value and (error := json_type_errors(child, value[name]))
        }
        return field_errors or None
    for field_class, types, what in JSON_TYPES:
        if isinstance(field, field_class):
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return [f"Must be {what}."]
            max_length = getattr(field, "max_length", None)
            if isinstance(value, str) and max_length is not None and len(value) > max_length:
                return [f"Ensure this field has no more than {max_length} characters."]
            return None
    return None


MONEY = re.compile(r"[0-9]{1,8}(\.[0-9]{1,2})?")


@extend_schema_field({"type": "string", "format": "decimal", "pattern": rf"^{MONEY.pattern}$", "example": "19.90"})
class MoneyInput(serializers.DecimalField):
    """An amount of money in a string, as the API writes it: ``"19.90"``, at most 8
    digits before the point and 2 after, never negative. Nothing else (no exponent,
    no sign, no spaces), so what the schema's pattern says is exactly what is taken."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=10, decimal_places=2, min_value=0, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not MONEY.fullmatch(data):
            raise serializers.ValidationError('A decimal number such as "19.90": digits, at most 2 after the point.')
        return super().to_internal_value(data)
