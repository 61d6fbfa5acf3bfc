"""One error format for the whole API.

Every error answer is ``{"error": {"code", "message", "fields"?}}``: ``code`` is a
stable machine-readable word, ``message`` a sentence for people, and ``fields`` (on
validation errors) maps each offending input to its messages. Unexpected exceptions
on API paths become a JSON 500 that shows nothing of the server's insides.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponsePermanentRedirect, JsonResponse
from django.urls import is_valid_path
from django.views.decorators.common import no_append_slash
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"
    default_detail = "The request cannot be processed."


def invalid(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {k: _messages(v) for k, v in detail.items()}
    return {"non_field_errors": _messages(detail)}


def _messages(value) -> list | dict:
    if isinstance(value, dict):
        return {k: _messages(v) for k, v in value.items()}
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return [str(v) for v in value]
        return [_messages(v) for v in value]
    return [str(value)]


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def api_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(error_body("server_error", "Something went wrong on our side."), status=500)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        names = ", ".join(k for k in fields if k != "non_field_errors")
        message = f"Invalid input: {names}." if names else "Invalid input."
        response.data = error_body("invalid", message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(code if isinstance(code, str) else "error", str(detail))
    return response


def _json(body: dict, status: int) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"separators": (",", ":")})


# Django-level handlers (urls.handler404/500): JSON for everything, since the only
# HTML the service serves is the admin, which has its own pages for a logged-in user.
def not_found(request, exception=None):
    return _json(error_body("not_found", "Not found."), 404)


@csrf_exempt  # a POST to an unknown path is a 404, not a CSRF refusal
@no_append_slash  # CommonMiddleware must not send every unknown path on to its "/" form
def unmatched_api_path(request, path: str = ""):
    """The last route under ``/api/``: no other matched. With ``DEBUG`` off Django would
    call ``handler404`` anyway; with it on, it answers its HTML debug page, and a client
    developer working against ``make run`` must see the same JSON as in production.
    Where the path plus "/" is a real page (``/api/docs``), the usual redirect stands."""
    if settings.APPEND_SLASH and request.method in ("GET", "HEAD") and not request.path_info.endswith("/"):
        match = is_valid_path(f"{request.path_info}/", getattr(request, "urlconf", None))
        if match and match.func is not unmatched_api_path:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return not_found(request)


def server_error(request):
    return _json(error_body("server_error", "Something went wrong on our side."), 500)


def bad_request(request, exception=None):
    return _json(error_body("bad_request", "Bad request."), 400)


def permission_denied(request, exception=None):
    return _json(error_body("permission_denied", "You do not have permission to perform this action."), 403)
