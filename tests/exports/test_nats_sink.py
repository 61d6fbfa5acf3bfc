"""Public events exported to a real NATS JetStream: each once on orderflow.<type> with
Nats-Msg-Id = the envelope id; a copy sent again is flagged a duplicate by JetStream
and not stored; a NATS that is down is retried without holding anything else."""

import asyncio
from datetime import timedelta

import nats
import pytest
from django.utils import timezone

from events import public
from events.models import HandlerRun
from events.services import recovery
from exports import services, sinks
from orders.models import Order
from tests.factories import place_order
from tests.testkit.exports import NATS_URL, public_events_of
from tests.testkit.processes import closed_port
from tests.testkit.proxy import BrokerProxy

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_paid_orders_public_events_are_published_once_each_on_their_subjects(shopper, mug, run_handlers, jetstream):
    order = place_order(shopper.customer, {mug: 2})
    run_handlers()

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    events = public_events_of(order.pk)
    messages = jetstream.messages()
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [str(e.key) for e in events]
    for message, event in zip(messages, events, strict=True):
        assert message.subject == f"{jetstream.prefix}.{event.type}"
        assert message.data == public.envelope_json(event)
        assert message.envelope["data"]["order_id"] == order.pk
    assert set(HandlerRun.objects.filter(handler="exports.nats").values_list("status", flat=True)) == {"done"}


def test_the_stream_is_made_on_first_use_with_the_subjects_and_duplicate_window(shopper, mug, jetstream):
    order = place_order(shopper.customer, {mug: 1})
    sinks.get("nats").publish(public_events_of(order.pk)[0])

    async def config():
        nc = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
        try:
            return (await nc.jetstream(timeout=2).stream_info(jetstream.stream)).config
        finally:
            await nc.close()

    made = asyncio.run(config())
    assert made.subjects == [f"{jetstream.prefix}.>"]
    assert made.duplicate_window == 600.0


def test_a_run_sent_again_is_flagged_a_duplicate_and_stored_once(shopper, mug, run_handlers, jetstream):
    order = place_order(shopper.customer, {mug: 1})
    placed = public_events_of(order.pk)[0]
    # Published by a worker that died before marking the run done...
    assert services.export(placed, "nats") is True
    # ...so the run is sent again: JetStream's ack says duplicate, nothing is stored.
    run_handlers()
    assert services.export(placed, "nats") is False

    ids = [m.headers["Nats-Msg-Id"] for m in jetstream.messages()]
    assert ids.count(str(placed.key)) == 1
    assert ids == [str(e.key) for e in public_events_of(order.pk)]
    assert HandlerRun.objects.get(event=placed, handler="exports.nats").status == "done"


def test_a_nats_that_is_down_is_retried_without_holding_the_order_and_caught_up_once_back(
    shopper, mug, run_handlers, jetstream, settings
):
    settings.EVENTS_EXPORT_NATS_URL = f"nats://127.0.0.1:{closed_port()}"
    settings.EVENTS_RETRY_BACKOFF_BASE = 60.0
    order = place_order(shopper.customer, {mug: 1}, payment_token="tok_declined")
    run_handlers()

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert set(HandlerRun.objects.exclude(handler__startswith="exports.").values_list("status", flat=True)) == {"done"}
    exports = HandlerRun.objects.filter(handler="exports.nats")
    assert [(r.status, r.attempts) for r in exports] == [("retrying", 1)] * 3
    assert all("NoServersError" in r.last_error for r in exports)

    settings.EVENTS_EXPORT_NATS_URL = NATS_URL
    exports.update(deadline=timezone.now() - timedelta(seconds=1))
    recovery.relay()
    run_handlers()

    assert set(exports.values_list("status", flat=True)) == {"done"}
    assert [m.headers["Nats-Msg-Id"] for m in jetstream.messages()] == [str(e.key) for e in public_events_of(order.pk)]


def test_the_sink_reconnects_after_its_connection_was_cut(shopper, mug, jetstream, settings):
    proxy = BrokerProxy(("127.0.0.1", 4222))
    proxy.on()
    try:
        settings.EVENTS_EXPORT_NATS_URL = f"nats://127.0.0.1:{proxy.port}"
        first, second, third = (public_events_of(place_order(shopper.customer, {mug: 1}).pk)[0] for _ in range(3))
        sink = sinks.get("nats")
        assert sink.publish(first)

        proxy.off()
        with pytest.raises((nats.errors.Error, TimeoutError)):  # no ack, or no connection
            sink.publish(second)

        proxy.on()
        assert sink.publish(second)
        assert sink.publish(third)
        assert sinks.get("nats") is sink
    finally:
        proxy.off()
    assert [m.headers["Nats-Msg-Id"] for m in jetstream.messages()] == [str(e.key) for e in (first, second, third)]
