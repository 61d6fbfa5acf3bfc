"""/metrics: Prometheus text computed from the database at scrape time, parsed here
with prometheus_client's own parser."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from events import services as events_services
from events.models import Event, HandlerRun
from orders import services as order_services
from tests.factories import ProductFactory, UserFactory, place_order

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def traded(run_handlers):
    """Three orders through the real flow: one paid, one declined, one paid and then
    cancelled by its customer."""
    customer = UserFactory().customer
    mug = ProductFactory(sku="MUG-01", price="12.90", stock=10)
    place_order(customer, {mug: 1})
    place_order(customer, {mug: 1}, payment_token="tok_declined")
    refunded = place_order(customer, {mug: 1})
    run_handlers()
    order_services.cancel_own_order(customer=customer, order_id=refunded.pk)
    run_handlers()


def test_order_and_event_counters_count_what_happened(client, traded):
    samples = scrape(client)

    assert value(samples, "orderflow_orders_placed_total") == 3
    assert value(samples, "orderflow_orders_paid_total") == 2  # the cancelled one was paid first
    assert value(samples, "orderflow_orders_cancelled_total") == 2
    assert {
        status: value(samples, "orderflow_orders", status=status) for status in ("pending", "paid", "cancelled")
    } == {
        "pending": 0,
        "paid": 1,
        "cancelled": 2,
    }
    recorded = {
        dict(labels)["type"]: v for (name, labels), v in samples.items() if name == "orderflow_events_recorded_total"
    }
    assert recorded == {
        "order.placed": 3,
        "payment.captured": 2,
        "payment.failed": 1,
        "order.paid": 2,
        "order.cancelled": 2,
        "payment.refunded": 1,
    }
    for event_type, count in recorded.items():
        assert value(samples, "orderflow_events_dispatched_total", type=event_type) == count
    assert value(samples, "orderflow_handler_runs", handler="payments.charge_order", status="done") == 3
    assert value(samples, "orderflow_handler_runs", handler="customers.revoke_points", status="done") == 2


def test_handler_durations_are_a_histogram_per_handler_built_from_the_recorded_runs(client, traded):
    charges = HandlerRun.objects.filter(handler="payments.charge_order").order_by("id")
    assert all(run.started_at and run.last_duration is not None for run in HandlerRun.objects.all())
    for run, seconds in zip(charges, (0.003, 0.3, 7.0), strict=True):
        HandlerRun.objects.filter(pk=run.pk).update(last_duration=seconds)

    samples = scrape(client)

    def bucket(le: str) -> float:
        return value(samples, "orderflow_handler_duration_seconds_bucket", handler="payments.charge_order", le=le)

    assert [bucket(le) for le in ("0.005", "0.25", "0.5", "5.0", "10.0", "+Inf")] == [1, 1, 2, 2, 3, 3]
    assert value(samples, "orderflow_handler_duration_seconds_count", handler="payments.charge_order") == 3
    assert value(samples, "orderflow_handler_duration_seconds_sum", handler="payments.charge_order") == pytest.approx(
        7.303
    )
    # Every done run is counted under its own handler.
    assert value(samples, "orderflow_handler_duration_seconds_count", handler="customers.award_points") == 2
    assert value(samples, "orderflow_handler_duration_seconds_count", handler="orders.cancel_declined") == 1


def test_the_oldest_undispatched_event_and_open_run_are_aged_from_the_database(client, traded):
    samples = scrape(client)
    assert value(samples, "orderflow_oldest_undispatched_event_age_seconds") == 0
    assert value(samples, "orderflow_oldest_open_run_age_seconds") == 0

    now = timezone.now()
    Event.objects.filter(pk=Event.objects.first().pk).update(dispatched_at=None, occurred_at=now - timedelta(minutes=2))
    run = HandlerRun.objects.first()
    HandlerRun.objects.filter(pk=run.pk).update(status="retrying", created_at=now - timedelta(minutes=5))
    samples = scrape(client)

    assert value(samples, "orderflow_events_undispatched") == 1
    assert 120 <= value(samples, "orderflow_oldest_undispatched_event_age_seconds") < 3600
    assert 300 <= value(samples, "orderflow_oldest_open_run_age_seconds") < 3600


def test_no_counter_goes_down_when_retention_deletes_the_rows_it_counted(client, traded):
    HandlerRun.objects.filter(handler="payments.charge_order").update(last_duration=0.3)
    before = scrape(client)
    old = timezone.now() - timedelta(days=365)
    first_order = Event.objects.order_by("id").first().stream
    Event.objects.filter(stream=first_order).update(occurred_at=old)
    HandlerRun.objects.filter(event__stream=first_order).update(finished_at=old)

    pruned = events_services.prune()
    after = scrape(client)

    assert pruned.events == 3  # the first order's placed, captured and paid
    counters = [
        key
        for key in before
        if key[0].endswith(("_total", "_bucket", "_count", "_sum")) and key[0].startswith("orderflow_")
    ]
    assert counters
    assert {key: after.get(key) for key in counters} == {key: before[key] for key in counters}
    assert value(after, "orderflow_events_recorded_total", type="order.placed") == 3


@pytest.mark.django_db
def test_with_a_metrics_token_only_a_scraper_sending_it_reads_metrics(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"

    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
    right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")

    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"]["code"] == "not_authenticated"
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert b"orderflow_" not in wrong.content
    assert right.status_code == 200
    assert b"orderflow_orders_placed_total" in right.content
