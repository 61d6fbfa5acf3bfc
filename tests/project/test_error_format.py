"""Every error answer on an API path is ``{"error": {"code", "message", "fields"?}}``:
unknown URLs, wrong methods, bodies that are malformed, too large or of the wrong type,
an Accept header nothing satisfies, a CSRF failure, and the unexpected exception,
which shows nothing of the server's insides. (401, 403 and 404 on objects: the
permission matrix; 429: the throttling tests.)"""

import json

import pytest
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from rest_framework.test import APIClient

from orders import selectors as order_selectors
from project import urls as project_urls
from tests.factories import StaffUserFactory, UserFactory
from tests.testkit.api_routes import HTTP_METHODS, WRITE_CALLS, api_routes, every_row, missing_write_calls
from tests.testkit.clients import client_for

pytestmark = pytest.mark.django_db

WRITES = sorted(WRITE_CALLS)
IDS = [f"{method} {name}" for name, method in WRITES]
ROUTES = api_routes()


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


UNMATCHED = [
    "/api/",
    "/api/v1/",
    "/api/v1/nowhere",
    "/api/v2/orders",
    "/api/v1/orders/abc",
    "/api/v1/orders/null,null",
    "/api/v1/products/%C2%84",
    "/api/v1/orders/",
]


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize("url", UNMATCHED)
def test_an_unknown_api_url_is_a_json_404_with_debug_on_or_off(client, settings, url, debug):
    """With DEBUG on (``make run``), Django would answer its HTML debug page."""
    settings.DEBUG = debug

    error_of(client.get(url), 404, "not_found")
    error_of(client.post(url, {"a": 1}, content_type="application/json"), 404, "not_found")


def test_an_api_page_asked_for_without_its_slash_is_still_redirected_to_it(client, settings):
    settings.DEBUG = True

    response = client.get("/api/docs")

    assert response.status_code == 301
    assert response["Location"] == "/api/docs/"


@pytest.mark.parametrize("route", ROUTES, ids=[str(r) for r in ROUTES])
def test_a_method_a_route_does_not_answer_is_a_405_saying_which_it_does(route):
    """As staff, who passes every permission, so the method is what is refused."""
    method = next(m for m in HTTP_METHODS if m not in route.methods)
    params = {"sku": "MUG-01", "order_id": 1, "notification_id": 1, "token_id": 1, "webhook_id": 1, "question_id": 1}

    response = getattr(client_for(StaffUserFactory()), method.lower())(
        route.path(**{p: params[p] for p in route.params})
    )

    error = error_of(response, 405, "method_not_allowed")
    assert method in error["message"]
    assert set(route.methods) <= set(response["Allow"].replace(" ", "").split(","))


def test_an_accept_header_nothing_satisfies_is_a_json_406(api_client):
    error_of(api_client.get("/api/v1/products", HTTP_ACCEPT="text/html"), 406, "not_acceptable")


def test_every_write_is_checked_here():
    assert missing_write_calls() == set()


@pytest.mark.parametrize("write", WRITES, ids=IDS)
def test_malformed_json_is_a_400_parse_error(write):
    call = WRITE_CALLS[write]()
    before = every_row()

    response = call.send('{"items": [', content_type="application/json")

    assert "JSON" in error_of(response, 400, "parse_error")["message"]
    assert every_row() == before


@pytest.mark.parametrize("write", WRITES, ids=IDS)
def test_a_body_that_is_not_json_is_a_415(write):
    call = WRITE_CALLS[write]()
    before = every_row()

    response = call.send("a=1&b=2", content_type="application/x-www-form-urlencoded")

    error_of(response, 415, "unsupported_media_type")
    assert every_row() == before


@pytest.mark.parametrize("write", WRITES, ids=IDS)
def test_a_body_over_the_size_limit_is_a_413(write, settings):
    call = WRITE_CALLS[write]()
    before = every_row()
    body = {**call.body, "padding": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}

    response = call.send(json.dumps(body), content_type="application/json")

    error_of(response, 413, "payload_too_large")
    assert every_row() == before


def test_a_session_write_without_its_csrf_token_is_a_json_403():
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(UserFactory())

    response = client.post("/api/v1/orders", {"items": [{"sku": "MUG-01", "quantity": 1}]}, format="json")

    assert "CSRF" in error_of(response, 403, "permission_denied")["message"]


# --- The unexpected ---------------------------------------------------------------------
SECRET_BITS = ["Traceback", "SELECT", "password=", "orders/selectors.py", "RuntimeError"]


def assert_reveals_nothing(response) -> None:
    text = response.content.decode()
    for bit in [*SECRET_BITS, django_settings.SECRET_KEY]:
        assert bit not in text


def test_an_unexpected_exception_in_an_api_view_is_a_bare_json_500(shopper_client, monkeypatch, caplog):
    def broken(customer):
        raise RuntimeError("SELECT * FROM orders_order WHERE password='hunter2'")

    monkeypatch.setattr(order_selectors, "orders_of", broken)

    response = shopper_client.get("/api/v1/orders")

    assert error_of(response, 500, "server_error") == {
        "code": "server_error",
        "message": "Something went wrong on our side.",
    }
    assert_reveals_nothing(response)
    assert "SELECT * FROM orders_order" in caplog.text  # the log has it, for the operator


def _plain_django_view_that_breaks(request):
    raise RuntimeError("SELECT secret FROM settings; password=hunter2")


def _plain_django_view(request):
    return HttpResponse("ok")


# A URL conf of the test's own: a plain Django view (not DRF's) under /api/, whose
# exception goes through Django's handler500 instead of DRF's exception handler.
urlpatterns = [
    path("api/v1/broken", _plain_django_view_that_breaks),
    path("api/v1/plain", _plain_django_view),
    *project_urls.urlpatterns,
]
handler500 = project_urls.handler500
handler404 = project_urls.handler404


def test_an_unexpected_exception_outside_drf_is_a_bare_json_500_too(settings):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    assert client.get("/api/v1/plain").status_code == 200  # the URL conf is in force

    response = client.get("/api/v1/broken")

    assert error_of(response, 500, "server_error")["message"] == "Something went wrong on our side."
    assert_reveals_nothing(response)
