"""Kafka, tested without a Kafka broker (none runs on this machine): the record as
built (value, key, headers) against the real client library (confluent-kafka /
librdkafka); an undeliverable message makes the publish, and so the handler run, fail
and retry, never succeed in silence; and delivery through librdkafka's own in-process
mock cluster (``test.mock.num.brokers``), read back with a real consumer. A real
broker's behaviour (replication, acks=all across brokers) is not tested here."""

import json

import pytest
from confluent_kafka import Consumer, KafkaError

from events import public
from events.models import HandlerRun
from exports import sinks
from exports.sinks.kafka import KafkaDeliveryError, KafkaSink
from orders.models import Order
from tests.factories import place_order
from tests.testkit.exports import public_events_of
from tests.testkit.processes import closed_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kafka_down(settings, export_prefix):
    """Kafka enabled, at an address where nothing listens; messages time out in 1 s."""
    settings.EVENTS_EXPORT_KAFKA_BOOTSTRAP = f"127.0.0.1:{closed_port()}"
    settings.EVENTS_EXPORT_KAFKA_MESSAGE_TIMEOUT = 1.0
    settings.EVENTS_EXPORT_TIMEOUT = 1.0


@pytest.fixture
def kafka_mock(settings, export_prefix):
    """Kafka enabled, on librdkafka's mock cluster of 3 brokers (in this process)."""
    settings.EVENTS_EXPORT_KAFKA_BOOTSTRAP = "mock"  # replaced by the mock cluster's
    settings.EVENTS_EXPORT_KAFKA_CONFIG = {"test.mock.num.brokers": 3}


def consume_all(sink: KafkaSink, topic: str, expected: int) -> list:
    """Read the topic from the start on the sink's mock cluster, up to ``expected``."""
    brokers = sink.producer.list_topics(timeout=5).brokers.values()
    consumer = Consumer(
        {
            "bootstrap.servers": ",".join(f"{b.host}:{b.port}" for b in brokers),
            "group.id": "orderflow-test",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got, polls = [], 0
    try:
        while len(got) < expected and polls < 60:
            polls += 1
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                continue
            got.append(message)
    finally:
        consumer.close()
    return got


def test_the_record_is_the_envelope_keyed_by_the_order_id_with_id_type_and_version_headers(
    shopper, mug, settings, export_prefix
):
    settings.EVENTS_EXPORT_KAFKA_BOOTSTRAP = f"127.0.0.1:{closed_port()}"
    order = place_order(shopper.customer, {mug: 1})
    placed = public_events_of(order.pk)[0]

    record = sinks.get("kafka").record_of(placed)

    assert record["topic"] == f"{export_prefix}.events"
    assert record["key"] == str(order.pk).encode()
    assert record["value"] == public.envelope_json(placed)
    assert record["headers"] == [("id", str(placed.key).encode()), ("type", b"order.placed"), ("version", b"1")]


def test_an_undeliverable_message_makes_the_publish_raise_with_the_message_as_built(shopper, mug, kafka_down):
    order = place_order(shopper.customer, {mug: 1})
    placed = public_events_of(order.pk)[0]

    with pytest.raises(KafkaDeliveryError) as failed:
        sinks.get("kafka").publish(placed)

    assert failed.value.error.code() == KafkaError._MSG_TIMED_OUT
    message = failed.value.message  # the library's own message object, from the callback
    assert message.topic() == sinks.get("kafka").topic
    assert message.key() == str(order.pk).encode()
    assert message.value() == public.envelope_json(placed)


def test_a_kafka_that_cannot_be_reached_leaves_the_runs_retrying_and_the_order_unheld(
    shopper, mug, run_handlers, kafka_down, settings
):
    settings.EVENTS_RETRY_BACKOFF_BASE = 60.0
    order = place_order(shopper.customer, {mug: 1})
    run_handlers()

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    runs = HandlerRun.objects.filter(handler="exports.kafka")
    assert [(r.status, r.attempts) for r in runs] == [("retrying", 1)] * 3
    assert all("KafkaDeliveryError" in r.last_error and "timed out" in r.last_error for r in runs)


def test_one_orders_events_are_delivered_once_each_in_order_on_one_partition(shopper, mug, run_handlers, kafka_mock):
    orders = [place_order(shopper.customer, {mug: 1}, payment_token=t) for t in ("tok_ok", "tok_declined")]
    run_handlers()

    assert set(HandlerRun.objects.filter(handler="exports.kafka").values_list("status", flat=True)) == {"done"}
    sink = sinks.get("kafka")
    expected = {o.pk: public_events_of(o.pk) for o in orders}
    got = consume_all(sink, sink.topic, sum(map(len, expected.values())))
    for order in orders:
        mine = [m for m in got if m.key() == str(order.pk).encode()]
        assert [dict(m.headers())["id"].decode() for m in mine] == [str(e.key) for e in expected[order.pk]]
        assert [m.value() for m in mine] == [public.envelope_json(e) for e in expected[order.pk]]
        assert {json.loads(m.value())["data"]["order_id"] for m in mine} == {order.pk}
        assert len({m.partition() for m in mine}) == 1
    assert len(got) == sum(map(len, expected.values()))
