"""The event catalog over HTTP: public, like the OpenAPI schema beside it."""

from django.http import HttpRequest, JsonResponse

from project.errors import error_body

from . import asyncapi

ALLOWED = ("GET", "HEAD")


def asyncapi_document(request: HttpRequest) -> JsonResponse:
    """``GET /api/events/asyncapi.json``: every event type, its payload schema and version,
    and its channels, as AsyncAPI 3.0."""
    if request.method not in ALLOWED:
        # In the API's error format, as every /api/ answer (Django's require_safe
        # answers an empty body).
        body = error_body("method_not_allowed", f'Method "{request.method}" not allowed.')
        refused = JsonResponse(body, status=405)
        refused["Allow"] = ", ".join(ALLOWED)
        return refused
    return JsonResponse(asyncapi.document(), json_dumps_params={"indent": 2})
