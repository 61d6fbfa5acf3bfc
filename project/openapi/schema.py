"""``ApiSchema`` (``DEFAULT_SCHEMA_CLASS``) adds, in this one place rather than per view:

* the error answers each operation can give, all in the one format of
  ``project/errors.py`` (the ``Error`` component), derived from what the view is
  made of: a request body or validated parameters (400, 413, 415), authenticators
  (401), permissions that turn away a signed-in shopper or a cookie session without
  its CSRF token (403), path parameters or pagination (404), query parameters (414,
  from the HTTP server in front of the API), an ``Idempotency-Key``
  (409, 422), throttles (429), and 500 for everything;
* which operations need no login (the permissions let an anonymous caller through);
* ``additionalProperties: false`` on request bodies whose serializer refuses unknown
  fields (``inputs.refuses_unknown_fields``);
* one tag per app.

A view names the business errors no rule can see by listing the exception class
against its status, e.g. ``responses={200: OrderOutput, 409: Conflict}`` (or wrapped in
an ``OpenApiResponse`` with a description of when): any ``APIException`` subclass is
rendered as an ``Error`` answer.

drf-spectacular has no public hook for a response or a request body's schema, so three
of its private methods are overridden and two called; ``PRIVATE_API`` names them with
their parameters, and a test fails when an upgrade changes one, rather than the
document quietly losing its error answers.
"""

from types import SimpleNamespace
from typing import cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance, is_serializer
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from .errors import ERROR_COMPONENT, ERROR_SCHEMA, ERRORS, EXAMPLE_MESSAGES
from .inputs import IDEMPOTENCY_HEADER, PAGINATION_PARAMETERS, describe_input, refuses_unknown_fields

# drf-spectacular's private methods this class overrides or calls, with their parameters.
PRIVATE_API = {
    "_get_response_for_code": ("self", "serializer", "status_code", "media_types", "direction"),
    "_get_response_bodies": ("self", "direction"),
    "_map_basic_serializer": ("self", "serializer", "direction"),
    "_get_parameters": ("self",),
    "_get_request_body": ("self", "direction"),
}


class ApiSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        # One group per app in the docs: users, catalog, orders, ...
        return [self.view.__class__.__module__.split(".")[0]]

    # --- who may call ----------------------------------------------------------------
    def _permits(self, user) -> bool:
        """Whether the view's permissions let ``user`` make this call."""
        # A stand-in request: the permission classes read no more of it than this.
        probe = cast(Request, SimpleNamespace(method=self.method, user=user, auth=None, query_params={}, data={}))
        return all(p.has_permission(probe, self.view) for p in self.view.get_permissions())

    def _anonymous_allowed(self) -> bool:
        return self._permits(AnonymousUser())

    def _shopper_allowed(self) -> bool:
        shopper = get_user_model()(username="probe", is_staff=False, is_superuser=False, is_active=True)
        return self._permits(shopper)

    def get_auth(self):
        auths = [a for a in super().get_auth() if a]  # the library adds {} for AllowAny only
        if self._anonymous_allowed():
            auths.append({})  # no credentials needed
        return auths

    # --- what can go wrong -----------------------------------------------------------
    def _reads_body(self) -> bool:
        """A body is parsed: the view declares a request serializer, even one without
        fields (a call that takes no body and refuses one)."""
        if self.method not in ("POST", "PUT", "PATCH"):
            return False
        return is_serializer(self.get_request_serializer()) or self._get_request_body() is not None

    def _declared_parameters(self) -> list[dict]:
        return [p for p in self._get_parameters() if "$ref" not in p]

    def _error_reasons(self) -> dict[int, list[str]]:
        """Each error status this operation can answer, with why."""
        reasons: dict[int, list[str]] = {}

        def add(status: int, why: str) -> None:
            reasons.setdefault(status, []).append(why)

        parameters = self._declared_parameters()
        validated = [p for p in parameters if p["in"] in ("query", "header")]
        has_body = self._reads_body()
        if has_body:
            add(400, "The body is not valid JSON or not what this operation takes.")
            add(413, ERRORS[413][0])
            add(415, ERRORS[415][0])
        if validated:
            names = ", ".join(f"`{p['name']}`" for p in validated)
            add(400, f"A parameter is not valid: {names}.")
        if self.view.get_authenticators():
            if self._anonymous_allowed():
                add(401, "A token was sent and is not valid (none is needed).")
            else:
                add(401, "No credentials, or credentials that are not valid.")
        if not self._shopper_allowed():
            add(403, "Only staff may do this.")
        if self.method not in SAFE_METHODS and any(
            isinstance(a, SessionAuthentication) for a in self.view.get_authenticators()
        ):
            add(403, "Signed in by a session cookie (the docs page) without the CSRF token.")
        if any(p["in"] == "path" for p in parameters):
            add(404, ERRORS[404][0])
        if {p["name"] for p in parameters if p["in"] == "query"} & PAGINATION_PARAMETERS:
            add(404, "`page` is past the last page.")
        if any(p["in"] == "query" for p in parameters):
            add(414, ERRORS[414][0])
        if any(p["in"] == "header" and p["name"] == IDEMPOTENCY_HEADER for p in parameters):
            add(409, "A request with this Idempotency-Key is still being processed.")
            add(422, ERRORS[422][0])
        if self.view.get_throttles():
            add(429, ERRORS[429][0])
        add(500, ERRORS[500][0])
        return reasons

    def _error_ref(self) -> dict:
        component = ResolvedComponent(
            name=ERROR_COMPONENT, type=ResolvedComponent.SCHEMA, object=ERROR_COMPONENT, schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _invalid_input_example(self) -> tuple[str, dict[str, list[str]]]:
        """A 400 naming the first input of this operation: a body field or a parameter."""
        names = [p["name"] for p in self._declared_parameters() if p["in"] in ("query", "header")]
        serializer = self.get_request_serializer() if self.method in ("POST", "PUT", "PATCH") else None
        if is_serializer(serializer):
            names = [*force_instance(serializer).fields, *names]
        name = names[0] if names else "non_field_errors"
        return f"Invalid input: {name}.", {name: ["This field is required." if serializer else "Not valid."]}

    def _error_response(self, status: int, reasons: list[str], code: str | None = None) -> dict:
        if status == 414:
            return {"description": reasons[0], "content": {"text/html": {"schema": {"type": "string"}}}}
        code = code or ERRORS.get(status, ("", "error"))[1] or "error"
        fields: dict[str, list[str]] | None
        if code == "invalid":
            message, fields = self._invalid_input_example()
        else:
            message, fields = EXAMPLE_MESSAGES.get(code, (reasons[0], None))
        example = {"error": {"code": code, "message": message, **({"fields": fields} if fields else {})}}
        response = {
            "description": " ".join(dict.fromkeys(reasons)),
            "content": {"application/json": {"schema": self._error_ref(), "example": example}},
        }
        headers = {}
        if status == 401 and self.view.get_authenticators():
            headers["WWW-Authenticate"] = {
                "schema": {"type": "string"},
                "required": True,
                "description": "The scheme to authenticate with: `Token`.",
            }
        if status == 429:
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "required": True,
                "description": "Seconds to wait before the next request.",
            }
        if headers:
            response["headers"] = headers
        return response

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        # A view lists a business error by its exception class: {409: Conflict}, or
        # {409: OpenApiResponse(Conflict, description="...")} to say when it happens.
        described = isinstance(serializer, OpenApiResponse)
        error = serializer.response if described else serializer
        if isinstance(error, type) and issubclass(error, exceptions.APIException):
            why = serializer.description if described and serializer.description else str(error.default_detail)
            return self._error_response(int(status_code), [why], error.default_code)
        return super()._get_response_for_code(serializer, status_code, media_types, direction)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status, reasons in self._error_reasons().items():
            key = str(status)
            if key in responses:  # named by the view: keep its words, add the rule's
                named = responses[key]
                named["description"] = " ".join(dict.fromkeys([named["description"], *reasons]))
            else:
                responses[key] = self._error_response(status, reasons)
        return dict(sorted(responses.items()))

    # --- request bodies --------------------------------------------------------------
    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return schema
        for name, field in force_instance(serializer).fields.items():
            if name in schema["properties"]:
                describe_input(field, schema["properties"][name])
        if refuses_unknown_fields(force_instance(serializer)):
            schema["additionalProperties"] = False
        return schema
