"""Public events exported to a real Redis stream: each once, with the envelope; a run
sent again adds nothing; a Redis that is down is retried without holding anything
else, and caught up."""

import json
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from events import public
from events.models import HandlerRun
from events.services import recovery
from exports import services, sinks
from orders.models import Order
from tests.factories import place_order
from tests.testkit.exports import public_events_of
from tests.testkit.processes import closed_port
from tests.testkit.proxy import BrokerProxy

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_paid_orders_public_events_appear_once_each_in_the_stream_with_their_envelope(
    shopper, mug, run_handlers, redis_stream
):
    order = place_order(shopper.customer, {mug: 2})
    run_handlers()

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    events = public_events_of(order.pk)
    assert [e.type for e in events] == ["order.placed", "payment.captured", "order.paid"]
    entries = redis_stream.entries()
    assert [entry["id"] for entry in entries] == [str(e.key) for e in events]
    for entry, event in zip(entries, events, strict=True):
        assert entry["type"] == event.type
        assert entry["envelope"].encode() == public.envelope_json(event)
        assert json.loads(entry["envelope"])["data"]["order_id"] == order.pk
    runs = HandlerRun.objects.filter(handler="exports.redis")
    assert sorted(runs.values_list("status", flat=True)) == ["done"] * 3


def test_a_run_sent_again_after_its_xadd_adds_nothing_to_the_stream(shopper, mug, run_handlers, redis_stream):
    order = place_order(shopper.customer, {mug: 1})
    placed = public_events_of(order.pk)[0]
    # The worker exported it, then died before the run was marked done: the effect
    # is out, the run is still pending and will be sent again.
    assert services.export(placed, "redis") is True
    run_handlers()

    entries = [e for e in redis_stream.entries() if e["type"] == "order.placed"]
    assert [e["id"] for e in entries] == [str(placed.key)]
    assert HandlerRun.objects.get(event=placed, handler="exports.redis").status == "done"
    # And again by hand, as the relay or a redelivery would: still one entry.
    assert services.export(placed, "redis") is False
    assert len(redis_stream.entries()) == len(public_events_of(order.pk))


def test_a_stream_per_type_puts_each_event_in_the_stream_of_its_type(
    shopper, mug, run_handlers, redis_stream, settings
):
    settings.EVENTS_EXPORT_REDIS_STREAM_PER_TYPE = True
    order = place_order(shopper.customer, {mug: 1}, payment_token="tok_declined")
    run_handlers()

    for event in public_events_of(order.pk):
        stream = f"{redis_stream.prefix}.{event.type}"
        assert [e["id"] for e in redis_stream.entries(stream)] == [str(event.key)]
    assert redis_stream.entries() == []  # nothing in the one-stream name


def test_a_redis_that_is_down_is_retried_without_holding_the_order_and_caught_up_once_back(
    shopper, mug, run_handlers, redis_stream, settings
):
    settings.EVENTS_EXPORT_REDIS_URL = f"redis://127.0.0.1:{closed_port()}/5"
    # A real backoff: the retry Celery would run at once in-process waits its turn.
    settings.EVENTS_RETRY_BACKOFF_BASE = 60.0
    order = place_order(shopper.customer, {mug: 1})
    run_handlers()

    order.refresh_from_db()
    assert order.status == Order.Status.PAID  # payments, mails: none waited for the sink
    others = HandlerRun.objects.exclude(handler__startswith="exports.")
    assert set(others.values_list("status", flat=True)) == {"done"}
    exports = HandlerRun.objects.filter(handler="exports.redis")
    assert exports.count() == 3
    for run in exports:
        assert (run.status, run.attempts) == ("retrying", 1)
        assert "ConnectionError" in run.last_error

    settings.EVENTS_EXPORT_REDIS_URL = "redis://127.0.0.1:6379/5"  # Redis is back
    exports.update(deadline=timezone.now() - timedelta(seconds=1))  # the backoff is over
    recovery.relay()
    run_handlers()

    assert set(exports.values_list("status", flat=True)) == {"done"}
    assert [e["id"] for e in redis_stream.entries()] == [str(e.key) for e in public_events_of(order.pk)]


def test_the_sink_reconnects_after_its_connection_was_cut(shopper, mug, redis_stream, settings):
    proxy = BrokerProxy(("127.0.0.1", 6379))
    proxy.on()
    try:
        settings.EVENTS_EXPORT_REDIS_URL = f"redis://127.0.0.1:{proxy.port}/5"
        first, second, third = (place_order(shopper.customer, {mug: 1}) for _ in range(3))
        sink = sinks.get("redis")
        assert sink.publish(public_events_of(first.pk)[0])

        proxy.off()
        with pytest.raises(redis.ConnectionError):
            sink.publish(public_events_of(second.pk)[0])

        proxy.on()
        assert sinks.get("redis") is sink  # the same sink, kept for the process
        assert sink.publish(public_events_of(second.pk)[0])
        assert sink.publish(public_events_of(third.pk)[0])
    finally:
        proxy.off()
    assert [e["id"] for e in redis_stream.entries()] == [
        str(public_events_of(o.pk)[0].key) for o in (first, second, third)
    ]


def test_an_internal_event_is_never_exported(shopper, mug, redis_stream):
    order = place_order(shopper.customer, {mug: 1})
    placed = public_events_of(order.pk)[0]
    placed.type = "tests.not_public"

    with pytest.raises(ValueError, match="not a public event type"):
        services.export(placed, "redis")
    assert redis_stream.entries() == []


def test_metrics_count_each_sinks_exports_by_status(shopper, mug, run_handlers, redis_stream, settings, client):
    settings.EVENTS_EXPORT_NATS_URL = f"nats://127.0.0.1:{closed_port()}"  # NATS down
    settings.EVENTS_RETRY_BACKOFF_BASE = 60.0
    place_order(shopper.customer, {mug: 1})
    run_handlers()

    response = client.get("/metrics")
    assert response.status_code == 200
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }

    def runs(handler: str, status: str) -> float:
        return samples.get(("orderflow_handler_runs", frozenset({"handler": handler, "status": status}.items())), 0)

    assert (runs("exports.redis", "done"), runs("exports.redis", "retrying")) == (3, 0)
    assert (runs("exports.nats", "done"), runs("exports.nats", "retrying")) == (0, 3)
    assert runs("exports.kafka", "done") == 0  # not configured: no runs at all


def test_the_marker_holds_the_entry_id_for_the_dedup_period(shopper, mug, redis_stream, settings):
    settings.EVENTS_EXPORT_REDIS_DEDUP_DAYS = 2.0
    placed = public_events_of(place_order(shopper.customer, {mug: 1}).pk)[0]

    sinks.get("redis").publish(placed)

    marker = f"{redis_stream.prefix}:exported:{placed.key}"
    ((entry_id, _fields),) = redis_stream.client.xrange(f"{redis_stream.prefix}.events", "-", "+")
    assert redis_stream.client.get(marker) == entry_id
    assert 2 * 86400 - 60 < redis_stream.client.ttl(marker) <= 2 * 86400


def test_an_xadd_that_fails_leaves_no_marker_so_the_retry_exports_it(shopper, mug, redis_stream):
    placed = public_events_of(place_order(shopper.customer, {mug: 1}).pk)[0]
    stream = f"{redis_stream.prefix}.events"
    redis_stream.client.set(stream, "not a stream")  # XADD fails: WRONGTYPE

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        sinks.get("redis").publish(placed)

    assert not redis_stream.client.exists(f"{redis_stream.prefix}:exported:{placed.key}")
    redis_stream.client.delete(stream)
    assert sinks.get("redis").publish(placed) is True
    assert [e["id"] for e in redis_stream.entries()] == [str(placed.key)]
