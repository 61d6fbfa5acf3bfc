"""The staff API of webhook endpoints (API.md, "Webhooks")."""

import pytest
from django.urls import reverse

from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/hooks"


def create(client, **body):
    return client.post(reverse("v1:webhook-list"), {"url": URL, "event_types": ["order.paid"], **body}, format="json")


def test_the_secret_is_shown_on_create_only(staff_client):
    created = create(staff_client, description="warehouse")
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["event_types"], body["enabled"], body["description"]) == (
        URL,
        ["order.paid"],
        True,
        "warehouse",
    )

    detail = staff_client.get(reverse("v1:webhook-detail", kwargs={"webhook_id": body["id"]})).json()
    listed = staff_client.get(reverse("v1:webhook-list")).json()["results"]
    assert "secret" not in detail
    assert all("secret" not in row for row in listed)
    assert Endpoint.objects.get().secret == body["secret"]


def test_an_unknown_event_type_is_a_400_naming_it(staff_client):
    response = create(staff_client, event_types=["order.paid", "order.shipped"])

    assert response.status_code == 400
    [[message]] = response.json()["error"]["fields"]["event_types"].values()
    assert '"order.shipped" is not a public event type' in message
    assert "order.paid" in message
    assert not Endpoint.objects.exists()


def test_a_private_event_type_is_refused_too(staff_client):
    response = create(staff_client, event_types=["payment.requested"])
    assert response.status_code == 400


def test_an_endpoint_is_changed_and_deleted(staff_client):
    endpoint_id = create(staff_client).json()["id"]
    detail = reverse("v1:webhook-detail", kwargs={"webhook_id": endpoint_id})

    changed = staff_client.patch(
        detail, {"event_types": ["order.placed", "order.paid"], "enabled": False}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["event_types"] == ["order.paid", "order.placed"]
    assert changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"] == "disabled by staff"

    assert staff_client.delete(detail).status_code == 204
    assert staff_client.get(detail).status_code == 404
    assert not Endpoint.objects.exists()


def test_rotating_keeps_the_old_secret_signing_for_the_overlap(staff_client, settings):
    created = create(staff_client).json()
    response = staff_client.post(
        reverse("v1:webhook-rotate-secret", kwargs={"webhook_id": created["id"]}), {}, format="json"
    )

    assert response.status_code == 200
    endpoint = Endpoint.objects.get()
    assert endpoint.secret == response.json()["secret"] != created["secret"]
    assert endpoint.signing_secrets() == [response.json()["secret"], created["secret"]]


def test_a_customer_may_not_see_or_register_webhooks(shopper_client):
    assert shopper_client.get(reverse("v1:webhook-list")).status_code == 403
    assert create(shopper_client).status_code == 403
