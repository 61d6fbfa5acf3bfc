"""The OpenAPI document says what each operation can answer, who may call it, and how
operations chain (project/openapi/)."""

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView


def generate(patterns=None) -> dict:
    return SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def schema() -> dict:
    return generate()


def statuses(schema: dict, path: str, method: str) -> list[str]:
    return sorted(schema["paths"][path][method]["responses"])


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        ("/api/v1/auth/register", "post", ["201", "400", "413", "415", "429", "500"]),
        ("/api/v1/auth/token", "post", ["200", "400", "401", "403", "413", "415", "429", "500"]),
        ("/api/v1/auth/logout", "post", ["204", "400", "401", "403", "413", "415", "429", "500"]),
        ("/api/v1/me", "get", ["200", "401", "429", "500"]),
        ("/api/v1/products", "get", ["200", "400", "401", "404", "414", "429", "500"]),
        ("/api/v1/products", "post", ["201", "400", "401", "403", "413", "415", "429", "500"]),
        ("/api/v1/products/{sku}", "get", ["200", "401", "404", "429", "500"]),
        ("/api/v1/products/{sku}", "patch", ["200", "400", "401", "403", "404", "413", "415", "429", "500"]),
        ("/api/v1/orders", "post", ["201", "400", "401", "403", "409", "413", "415", "422", "429", "500"]),
        ("/api/v1/orders/{order_id}", "get", ["200", "401", "404", "429", "500"]),
        ("/api/v1/orders/{order_id}/stream", "get", ["200", "400", "401", "404", "414", "500"]),
        (
            "/api/v1/orders/{order_id}/stream-token",
            "post",
            ["201", "400", "401", "403", "404", "413", "415", "429", "500"],
        ),
        (
            "/api/v1/orders/{order_id}/cancel",
            "post",
            ["200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500"],
        ),
    ],
)
def test_each_operation_lists_the_error_statuses_it_can_answer(schema, path, method, expected):
    assert statuses(schema, path, method) == expected


def test_every_json_error_answer_is_the_one_error_format(schema):
    error = {"$ref": "#/components/schemas/Error"}
    answers = [
        (status, response)
        for item in schema["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
        if status >= "400" and status != "414"  # 414 is gunicorn's, before the API
    ]

    assert answers
    for status, response in answers:
        assert response["content"]["application/json"]["schema"] == error, status
        assert response["content"]["application/json"]["example"]["error"]["code"]
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]


def test_a_business_error_a_view_names_keeps_its_words(schema):
    conflict = schema["paths"]["/api/v1/orders/{order_id}/cancel"]["post"]["responses"]["409"]

    assert conflict["content"]["application/json"]["example"]["error"]["code"] == "conflict"
    assert conflict["description"].startswith("The order is already cancelled.")


def test_a_401_says_how_to_authenticate(schema):
    unauthorized = schema["paths"]["/api/v1/me"]["get"]["responses"]["401"]

    assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True


@pytest.mark.parametrize(
    ("path", "method", "anonymous"),
    [
        ("/api/v1/auth/register", "post", True),
        ("/api/v1/auth/token", "post", True),
        ("/api/v1/products", "get", True),
        ("/api/v1/products/{sku}", "get", True),
        ("/api/v1/products", "post", False),
        ("/api/v1/products/{sku}", "patch", False),
        ("/api/v1/orders", "post", False),
        ("/api/v1/me", "get", False),
    ],
)
def test_operations_anyone_may_call_need_no_credentials(schema, path, method, anonymous):
    security = schema["paths"][path][method]["security"]

    assert ({} in security) is anonymous
    if path != "/api/v1/auth/register":  # the only one that reads no credentials at all
        assert {"tokenAuth": []} in security
    assert schema["components"]["securitySchemes"]["tokenAuth"]["in"] == "header"


def test_the_order_placement_has_its_request_and_answer_examples(schema):
    place = schema["paths"]["/api/v1/orders"]["post"]

    request = next(iter(place["requestBody"]["content"]["application/json"]["examples"].values()))
    answer = next(iter(place["responses"]["201"]["content"]["application/json"]["examples"].values()))
    assert request["value"] == {"items": [{"sku": "MUG-01", "quantity": 2}], "payment_token": "tok_ok"}
    assert answer["value"]["status"] == "pending"


@pytest.mark.parametrize(
    ("path", "method", "status", "link", "target", "parameters"),
    [
        ("/api/v1/orders", "post", "201", "GetOrder", "v1_orders_retrieve", {"order_id": "$response.body#/id"}),
        ("/api/v1/orders", "post", "201", "CancelOrder", "v1_orders_cancel_create", {"order_id": "$response.body#/id"}),
        ("/api/v1/orders", "post", "201", "OrderEvents", "v1_orders_events_list", {"order_id": "$response.body#/id"}),
        ("/api/v1/products", "post", "201", "GetProduct", "v1_products_retrieve", {"sku": "$response.body#/sku"}),
        (
            "/api/v1/notifications",
            "get",
            "200",
            "ReadFirstNotification",
            "v1_notifications_read_create",
            {"notification_id": "$response.body#/results/0/id"},
        ),
    ],
)
def test_links_chain_an_answer_into_the_next_call(schema, path, method, status, link, target, parameters):
    found = schema["paths"][path][method]["responses"][status]["links"][link]

    assert found == {"operationId": target, "parameters": parameters}


@pytest.mark.parametrize(
    ("path", "method", "status", "link", "sku"),
    [
        ("/api/v1/products/{sku}", "get", "200", "OrderProduct", "$response.body#/sku"),
        ("/api/v1/products", "post", "201", "OrderProduct", "$response.body#/sku"),
        ("/api/v1/products", "get", "200", "OrderFirstProduct", "$response.body#/results/0/sku"),
    ],
)
def test_a_product_links_to_ordering_one_of_it(schema, path, method, status, link, sku):
    found = schema["paths"][path][method]["responses"][status]["links"][link]

    assert found["operationId"] == "v1_orders_create"
    assert found["requestBody"] == {"items": [{"sku": sku, "quantity": 1}], "payment_token": "tok_ok"}


def test_signing_up_links_to_signing_in_with_the_same_credentials(schema):
    link = schema["paths"]["/api/v1/auth/register"]["post"]["responses"]["201"]["links"]["SignIn"]

    assert link["operationId"] == "v1_auth_token_create"
    assert link["requestBody"] == {"username": "$response.body#/username", "password": "$request.body#/password"}


class ThrottledApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: None})
    def get(self, request):
        return Response({})


def test_a_throttled_operation_documents_429_with_retry_after(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "5/min"}}
    schema = generate([path("throttled", ThrottledApi.as_view())])

    too_many = schema["paths"]["/throttled"]["get"]["responses"]["429"]

    assert too_many["headers"]["Retry-After"]["required"] is True
    assert too_many["content"]["application/json"]["example"]["error"]["code"] == "throttled"


class UnthrottledApi(ThrottledApi):
    throttle_classes = []


def test_an_unthrottled_operation_has_no_429():
    schema = generate([path("unthrottled", UnthrottledApi.as_view())])

    assert "429" not in schema["paths"]["/unthrottled"]["get"]["responses"]


class TakesAName(serializers.Serializer):
    name = serializers.CharField()


class TakesOnlyAName(TakesAName):
    def to_internal_value(self, data):
        unknown = {key: ["Unknown field."] for key in data if key not in self.fields}
        if unknown:
            raise serializers.ValidationError(unknown)
        return super().to_internal_value(data)


class NamingApi(APIView):
    @extend_schema(request=TakesAName, responses={204: None})
    def post(self, request):
        return Response(status=204)


class StrictNamingApi(APIView):
    @extend_schema(request=TakesOnlyAName, responses={204: None})
    def post(self, request):
        return Response(status=204)


def test_a_request_body_is_closed_exactly_when_its_serializer_refuses_unknown_fields():
    schema = generate([path("naming", NamingApi.as_view()), path("strict", StrictNamingApi.as_view())])

    components = schema["components"]["schemas"]
    assert components["TakesOnlyANameRequest"]["additionalProperties"] is False
    assert "additionalProperties" not in components["TakesANameRequest"]


def test_the_description_explains_the_error_format_and_idempotency(schema):
    description = schema["info"]["description"]

    assert '{"error": {"code": "...", "message": "...", "fields": {...}}}' in description
    assert "Idempotency-Key" in description
    assert "Authorization: Token <key>" in description


def test_the_docs_page_is_served_and_points_at_the_schema(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"/api/schema/" in response.content


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_everything_from_our_own_static_files_so_they_work_offline(client, page):
    """No CDN: every script, stylesheet and icon the page names is one of the project's
    static files (drf-spectacular-sidecar), which exists."""
    response = client.get(page)

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assets += re.findall(r"""["']([^"']+\.(?:js|css|png))["']""", html)
    assert assets, "the page names no asset"
    assert not [a for a in assets if re.match(r"(https?:)?//", a)], f"{page} loads from another host"
    for asset in {a for a in assets if a.startswith(settings.STATIC_URL) or a.startswith("/" + settings.STATIC_URL)}:
        name = asset.split(settings.STATIC_URL, 1)[1].split("?")[0]
        assert finders.find(name), f"{asset} is not a static file of the project"


def test_the_live_order_stream_is_documented_as_server_sent_events(schema):
    operation = schema["paths"]["/api/v1/orders/{order_id}/stream"]["get"]

    assert list(operation["responses"]["200"]["content"]) == ["text/event-stream"]
    assert {p["name"]: p["in"] for p in operation["parameters"]} == {
        "order_id": "path",
        "token": "query",
        "lastEventId": "query",
        "Last-Event-ID": "header",
    }
    assert operation["security"] == [{"tokenAuth": []}]  # or ?token=, never a session cookie
    token = schema["paths"]["/api/v1/orders/{order_id}/stream-token"]["post"]["responses"]["201"]
    assert token["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/StreamTokenOutput"}
