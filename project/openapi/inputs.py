"""What DRF refuses of an input and drf-spectacular does not write down: request bodies
closed to unknown fields, blank strings, empty lists."""

from typing import Any

from rest_framework import serializers

IDEMPOTENCY_HEADER = "Idempotency-Key"
# What DRF's CharField strips (str.strip, Python's idea of whitespace), as literal
# characters: regex engines disagree on what \\s means.
_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
# A string input DRF takes: no NUL character, and not blank once trimmed.
NOT_BLANK = rf"[^\x00]*[^\x00{_WHITESPACE}][^\x00]*"
PAGINATION_PARAMETERS = {"page", "page_size"}


UNKNOWN_FIELD_PROBE = "x-unknown-field-probe"


def refuses_unknown_fields(serializer: serializers.Serializer) -> bool:
    """Whether this request serializer answers a field it does not take with an error
    rather than dropping it: then the schema closes the body (``additionalProperties:
    false``). Asked of the serializer itself, so the schema follows the server's policy
    wherever that is written."""
    probe = type(serializer)(data={UNKNOWN_FIELD_PROBE: None})
    probe.is_valid()
    return UNKNOWN_FIELD_PROBE in probe.errors


def describe_input(field: serializers.Field, schema: dict[str, Any]) -> None:
    """Say what DRF refuses and the library does not write down."""
    if "$ref" in schema:
        return
    if getattr(field, "allow_empty", True) is False and schema.get("type") == "array":
        schema.setdefault("minItems", 1)
    if (
        isinstance(field, serializers.CharField)
        and not field.allow_blank
        and schema.get("type") == "string"
        and "pattern" not in schema
        and "format" not in schema
    ):
        schema["pattern"] = f"^{NOT_BLANK}$"
