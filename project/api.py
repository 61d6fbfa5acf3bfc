"""Small helpers every controller uses, and the base of every request body's serializer."""

from collections.abc import Mapping

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
    """Validate request data with ``serializer_class``; a 400 naming the fields if not."""
    if not issubclass(serializer_class, InputSerializer):
        raise TypeError(f"{serializer_class.__name__} must be a project.api.InputSerializer")
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
