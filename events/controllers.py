"""The event catalog over HTTP: public, like the OpenAPI schema beside it."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from . import asyncapi


@require_safe
def asyncapi_document(request: HttpRequest) -> JsonResponse:
    """``GET /api/events/asyncapi.json``: every event type, its payload schema and version,
    and its channels, as AsyncAPI 3.0."""
    return JsonResponse(asyncapi.document(), json_dumps_params={"indent": 2})
