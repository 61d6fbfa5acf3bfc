"""Kafka: topic ``<prefix>.events``, key = the order id (one order's events go to one
partition, in the order they were exported; an export that was retried may come after
a later event of its order: consumers order them by the envelope's ``sequence``),
value = the envelope, headers ``id``, ``type``, ``version``.

The producer is idempotent (``enable.idempotence``: librdkafka's own retries never
write a message twice, nor out of order) and ``publish`` waits for the message's
delivery callback, raising if it reports an error or does not come in time: the run
is then retried. A message whose delivery was in doubt may be sent again by that retry:
consumers de-duplicate on the ``id`` header.
"""

import logging
import threading
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Producer
from django.conf import settings

from events import public
from events.models import Event

logger = logging.getLogger(__name__)


class KafkaDeliveryError(KafkaException):
    """The delivery callback reported an error; ``message`` is the message as built."""

    def __init__(self, error: KafkaError, message) -> None:
        super().__init__(error)
        self.error = error
        self.message = message

    def __str__(self) -> str:
        return f"delivery to {self.message.topic()} failed: {self.error.str()}"


@dataclass
class KafkaSink:
    bootstrap: str
    prefix: str = "orderflow"
    message_timeout: float = 15.0
    timeout: float = 5.0
    extra_config: dict = field(default_factory=dict)  # more librdkafka properties
    name: str = "kafka"

    @classmethod
    def from_settings(cls) -> "KafkaSink":
        return cls(
            bootstrap=settings.EVENTS_EXPORT_KAFKA_BOOTSTRAP,
            prefix=settings.EVENTS_EXPORT_PREFIX,
            message_timeout=settings.EVENTS_EXPORT_KAFKA_MESSAGE_TIMEOUT,
            timeout=settings.EVENTS_EXPORT_TIMEOUT,
            extra_config=dict(settings.EVENTS_EXPORT_KAFKA_CONFIG),
        )

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        # librdkafka keeps its connections and reconnects by itself: one producer per
        # process for its whole life.
        self.producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "client.id": "orderflow-exports",
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": int(self.message_timeout * 1000),
                "socket.connection.setup.timeout.ms": int(self.timeout * 1000),
                "error_cb": self._on_error,
                # librdkafka's own log lines go to our logging (JSON), not raw stderr.
                "logger": logger,
                **self.extra_config,
            }
        )

    @property
    def topic(self) -> str:
        return f"{self.prefix}.events"

    def record_of(self, event: Event) -> dict:
        """What is produced for ``event``: topic, key, value, headers."""
        sent = public.envelope(event)
        order_id = sent["data"].get("order_id")
        key = str(order_id) if order_id is not None else (sent["subject"] or sent["id"])
        return {
            "topic": self.topic,
            "key": key.encode(),
            "value": public.envelope_json(event),
            "headers": [
                ("id", sent["id"].encode()),
                ("type", sent["type"].encode()),
                ("version", str(sent["version"]).encode()),
            ],
        }

    def publish(self, event: Event) -> bool:
        outcome: dict = {}
        done = threading.Event()

        def on_delivery(error, message) -> None:
            outcome.update(error=error, message=message)
            done.set()

        with self._lock:
            self.producer.produce(**self.record_of(event), on_delivery=on_delivery)
            # librdkafka fails the message itself after message.timeout.ms: wait a
            # little longer so that its verdict, not ours, is what is reported.
            self.producer.flush(self.message_timeout + self.timeout)
        if not done.is_set():
            raise TimeoutError(f"no delivery report for event {event.key} from Kafka in time")
        if outcome["error"] is not None:
            raise KafkaDeliveryError(outcome["error"], outcome["message"])
        return True

    def _on_error(self, error: KafkaError) -> None:
        logger.warning("exports.kafka: %s", error.str())

    def close(self) -> None:
        self.producer.flush(self.timeout)
