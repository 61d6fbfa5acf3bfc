"""The OpenAPI document: what drf-spectacular sees in the views, plus what it cannot see.

``ApiSchema`` (``DEFAULT_SCHEMA_CLASS``) adds, in this one place rather than per view:

* the error answers each operation can give, all in the one format of
  ``project/errors.py`` (the ``Error`` component), derived from what the view is
  made of: a request body or validated parameters (400, 413, 415), authenticators
  (401), permissions that turn away a signed-in shopper or a cookie session without
  its CSRF token (403), path parameters or pagination (404), query parameters (414,
  from the HTTP server in front of the API), an ``Idempotency-Key``
  (409, 422), throttles (429), and 500 for everything;
* which operations need no login (the permissions let an anonymous caller through);
* ``additionalProperties: false`` on request bodies whose serializer refuses unknown
  fields (see ``refuses_unknown_fields``);
* one tag per app.

A view names the business errors no rule can see by listing the exception class
against its status, e.g. ``responses={200: OrderOutput, 409: Conflict}`` (or wrapped in
an ``OpenApiResponse`` with a description of when): any ``APIException`` subclass is
rendered as an ``Error`` answer.

``add_links`` (a postprocessing hook) adds the OpenAPI links that chain operations:
what a response hands to the next call (a new order's id, a product's SKU, ...).
Schemathesis's stateful phase follows them.
"""

from types import SimpleNamespace
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance, is_serializer
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error answer of the API has this shape.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "A stable machine-readable word: invalid, parse_error, not_authenticated, "
                    "authentication_failed, permission_denied, not_found, conflict, unprocessable, "
                    "payload_too_large, unsupported_media_type, throttled, server_error, ...",
                },
                "message": {"type": "string", "description": "A sentence for people."},
                "fields": {
                    "type": "object",
                    "description": "On validation errors (code `invalid`): each offending input (a body field, "
                    "a query parameter or a header) with its messages; a nested input (an order's `items`) "
                    "has the same structure per line or field. `non_field_errors` holds what concerns the "
                    "input as a whole.",
                    "additionalProperties": {"anyOf": [{"type": "array", "items": {}}, {"type": "object"}]},
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

# What each status means in this API, and an example of its body.
ERRORS = {
    400: ("Invalid input: the fields that are wrong are named in `fields`.", "invalid"),
    401: ("No credentials, or credentials that are not valid.", "not_authenticated"),
    403: ("Not allowed for this account.", "permission_denied"),
    404: ("Not found, or not the caller's.", "not_found"),
    409: ("Conflicts with the current state.", "conflict"),
    413: ("The request body is too large.", "payload_too_large"),
    # gunicorn refuses a request line over 4094 bytes before Django sees it, in HTML.
    414: ("The URL is too long: refused by the HTTP server (gunicorn) before the API, as HTML.", None),
    415: ("The request body is not `application/json`.", "unsupported_media_type"),
    422: ("This Idempotency-Key was used with a different request.", "unprocessable"),
    429: ("Too many requests: try again after `Retry-After` seconds.", "throttled"),
    500: ("Something went wrong on our side (never caused by the input).", "server_error"),
}
EXAMPLE_MESSAGES = {
    "not_authenticated": ("Authentication credentials were not provided.", None),
    "permission_denied": ("You do not have permission to perform this action.", None),
    "not_found": ("Not found.", None),
    "conflict": ("The request conflicts with the current state.", None),
    "payload_too_large": ("The request body is too large.", None),
    "unsupported_media_type": ('Unsupported media type "text/plain" in request.', None),
    "unprocessable": ("This Idempotency-Key was used with a different request.", None),
    "throttled": ("Request was throttled. Expected available in 42 seconds.", None),
    "server_error": ("Something went wrong on our side.", None),
}
IDEMPOTENCY_HEADER = "Idempotency-Key"
# What DRF's CharField strips (str.strip, Python's idea of whitespace), as literal
# characters: regex engines disagree on what \\s means.
_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
# A string input DRF takes: no NUL character, and not blank once trimmed.
NOT_BLANK = rf"[^\x00]*[^\x00{_WHITESPACE}][^\x00]*"
PAGINATION_PARAMETERS = {"page", "page_size"}


UNKNOWN_FIELD_PROBE = "x-unknown-field-probe"


def refuses_unknown_fields(serializer) -> bool:
    """Whether this request serializer answers a field it does not take with an error
    rather than dropping it: then the schema closes the body (``additionalProperties:
    false``). Asked of the serializer itself, so the schema follows the server's policy
    wherever that is written."""
    probe = type(serializer)(data={UNKNOWN_FIELD_PROBE: None})
    probe.is_valid()
    return UNKNOWN_FIELD_PROBE in probe.errors


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
                self._describe_input(field, schema["properties"][name])
        if refuses_unknown_fields(force_instance(serializer)):
            schema["additionalProperties"] = False
        return schema

    @staticmethod
    def _describe_input(field, schema: dict) -> None:
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


# --- Links ------------------------------------------------------------------------------
# (operationId, status) → {link name: (target operationId, parameters, request body)}.
# Runtime expressions: https://spec.openapis.org/oas/v3.0.3#runtime-expressions
ORDER = {"order_id": "$response.body#/id"}
FIRST_ORDER = {"order_id": "$response.body#/results/0/id"}
PRODUCT = {"sku": "$response.body#/sku"}
FIRST_PRODUCT = {"sku": "$response.body#/results/0/sku"}
WEBHOOK = {"webhook_id": "$response.body#/id"}
FIRST_WEBHOOK = {"webhook_id": "$response.body#/results/0/id"}


def webhook_links(prefix: str, webhook: dict) -> dict:
    return {
        f"{prefix}Webhook": ("v1_webhooks_retrieve", webhook, None),
        f"Change{prefix}Webhook": ("v1_webhooks_partial_update", webhook, None),
        f"Rotate{prefix}WebhookSecret": ("v1_webhooks_rotate_secret_create", webhook, None),
        f"{prefix}WebhookDeliveries": ("v1_webhooks_deliveries_list", webhook, None),
        f"Delete{prefix}Webhook": ("v1_webhooks_destroy", webhook, None),
    }


def order_of_one(sku: str) -> dict:
    return {"items": [{"sku": sku, "quantity": 1}], "payment_token": "tok_ok"}


# A link: (target operation, its parameters, its request body), each runtime expression.
Link = tuple[str, dict[str, str] | None, dict[str, Any] | None]

LINKS: dict[tuple[str, str], dict[str, Link]] = {
    ("v1_webhooks_create", "201"): webhook_links("New", WEBHOOK),
    ("v1_webhooks_list", "200"): webhook_links("First", FIRST_WEBHOOK),
    ("v1_auth_register_create", "201"): {
        "SignIn": (
            "v1_auth_token_create",
            None,
            {"username": "$response.body#/username", "password": "$request.body#/password"},
        ),
    },
    ("v1_orders_create", "201"): {
        "GetOrder": ("v1_orders_retrieve", ORDER, None),
        "CancelOrder": ("v1_orders_cancel_create", ORDER, None),
        "OrderEvents": ("v1_orders_events_list", ORDER, None),
        "StreamToken": ("v1_orders_stream_token_create", ORDER, None),
        "AskAboutOrder": (
            "v1_support_questions_create",
            None,
            {"question": "Where is it?", "order": "$response.body#/id"},
        ),
    },
    ("v1_orders_list", "200"): {
        "GetFirstOrder": ("v1_orders_retrieve", FIRST_ORDER, None),
        "CancelFirstOrder": ("v1_orders_cancel_create", FIRST_ORDER, None),
        "FirstOrderEvents": ("v1_orders_events_list", FIRST_ORDER, None),
    },
    ("v1_orders_cancel_create", "200"): {
        "GetCancelledOrder": ("v1_orders_retrieve", ORDER, None),
        "CancelledOrderEvents": ("v1_orders_events_list", ORDER, None),
    },
    ("v1_products_create", "201"): {
        "GetProduct": ("v1_products_retrieve", PRODUCT, None),
        "ChangeProduct": ("v1_products_partial_update", PRODUCT, None),
        "OrderProduct": ("v1_orders_create", None, order_of_one("$response.body#/sku")),
    },
    ("v1_products_list", "200"): {
        "GetFirstProduct": ("v1_products_retrieve", FIRST_PRODUCT, None),
        "ChangeFirstProduct": ("v1_products_partial_update", FIRST_PRODUCT, None),
        "OrderFirstProduct": ("v1_orders_create", None, order_of_one("$response.body#/results/0/sku")),
    },
    ("v1_products_retrieve", "200"): {
        "OrderProduct": ("v1_orders_create", None, order_of_one("$response.body#/sku")),
    },
    ("v1_products_partial_update", "200"): {
        "GetChangedProduct": ("v1_products_retrieve", PRODUCT, None),
    },
    ("v1_support_questions_create", "201"): {
        "GetQuestion": ("v1_support_questions_retrieve", {"question_id": "$response.body#/id"}, None),
    },
    ("v1_support_questions_list", "200"): {
        "GetFirstQuestion": ("v1_support_questions_retrieve", {"question_id": "$response.body#/results/0/id"}, None),
    },
    ("v1_notifications_list", "200"): {
        "ReadFirstNotification": (
            "v1_notifications_read_create",
            {"notification_id": "$response.body#/results/0/id"},
            None,
        ),
    },
}


def add_links(result, generator, request, public):
    """drf-spectacular postprocessing hook: put ``LINKS`` on the responses they start
    from. A link to an operation that is not in the document is an error, so a renamed
    operation cannot silently drop out of the stateful tests; links from operations a
    partial document (a test's) does not have are left out."""
    operations = {
        op["operationId"]: op for path in result["paths"].values() for op in path.values() if "operationId" in op
    }
    for (source, status), links in LINKS.items():
        if source not in operations:
            continue
        response = operations[source]["responses"][status]
        for name, (target, parameters, body) in links.items():
            if target not in operations:
                raise KeyError(f"link {name} from {source}: no operation {target}")
            link: dict[str, object] = {"operationId": target}
            if parameters:
                link["parameters"] = parameters
            if body:
                link["requestBody"] = body
            response.setdefault("links", {})[name] = link
    return result
