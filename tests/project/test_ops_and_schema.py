import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

from project.celery import app as celery_app
from tests.factories import UserFactory, place_order


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_200_when_the_database_and_the_broker_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_does_not_answer(client, monkeypatch):
    """A broker URL nothing listens on (port 1): a real refusal, not a stand-in."""
    nowhere = "redis://127.0.0.1:1/0"
    monkeypatch.setenv("CELERY_BROKER_URL", nowhere)  # Celery reads the environment first
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    monkeypatch.setitem(celery_app.conf, "broker_url", nowhere)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "checks": {"database": "ok", "broker": "unreachable"}}


@pytest.mark.django_db
def test_metrics_are_prometheus_text_with_orders_by_status(client, mug):
    customer = UserFactory().customer
    place_order(customer, {mug: 1})
    place_order(customer, {mug: 1})

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "# TYPE orderflow_orders gauge" in text
    assert 'orderflow_orders{status="pending"} 2.0' in text
    assert 'orderflow_orders{status="paid"} 0.0' in text
    assert "orderflow_events_undispatched 2.0" in text
    assert "orderflow_oldest_open_run_age_seconds" in text


def test_the_openapi_schema_generates_valid_and_without_warnings(tmp_path):
    GENERATOR_STATS.reset()
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = out.read_text()
    for path in ["/api/v1/orders:", "/api/v1/orders/{order_id}/cancel:", "/api/v1/products/{sku}:", "/api/v1/me:"]:
        assert path in schema
    assert "Idempotency-Key" in schema


@pytest.mark.django_db
def test_the_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "/api/v1/orders" in response.json()["paths"]


def test_an_unknown_url_is_a_json_404(client):
    response = client.get("/api/v1/nowhere")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
