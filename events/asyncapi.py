"""The event catalog as an AsyncAPI 3.0 document: every event type, its payload schema
and version, and the channels it travels on.

Two kinds of channels:

* inside Orderflow, the **Celery queues**: the dispatcher sends each handler of an event
  a task message whose one argument is the event's id (the handler reads the stored,
  typed payload); one channel per queue, one ``receive`` operation per handler;
* to other systems, the **public events** (``events.public``) as their envelope: to
  every registered webhook endpoint (address unknown until registered), the Redis
  stream ``orderflow.events``, the NATS JetStream subject ``orderflow.<type>`` and the
  Kafka topic ``orderflow.events`` (``../shared/API.md``: the contract those channels
  keep); ``send`` operations.

Schemas are the payloads' own (``Payload.model_json_schema``, as serialized: a
``Decimal`` is a string), nested models under ``components/schemas``. Served at
``/api/events/asyncapi.json`` and written by ``manage.py events catalog --format
asyncapi``.
"""

import hashlib
import json
from collections.abc import Iterable
from functools import cache

from django.conf import settings

from . import public, types
from .subscriptions import Subscription, subscriptions_of
from .types import JSONObject

ASYNCAPI_VERSION = "3.0.0"
_REF_TEMPLATE = "#/components/schemas/{model}"


def document() -> JSONObject:
    """The whole catalog (built once per process: event types are declared at import)."""
    doc: JSONObject = json.loads(_document_json())
    return doc


@cache
def _document_json() -> str:
    components_schemas: dict[str, JSONObject] = {}
    messages: dict[str, JSONObject] = {}
    for event_type in types.all_types():
        payload_ref = _add_payload_schema(event_type, components_schemas)
        messages[_task_message_id(event_type)] = _task_message(event_type, payload_ref)
        if public.is_public(event_type.name):
            envelope_name = f"{_schema_name(event_type)}Envelope"
            components_schemas[envelope_name] = _envelope_schema(event_type, payload_ref)
            messages[_public_message_id(event_type)] = _public_message(event_type, envelope_name)

    channels: JSONObject = {}
    operations: JSONObject = {}
    _add_celery_channels(channels, operations)
    _add_public_channels(channels, operations)
    doc = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Orderflow events",
            "version": _catalog_version(components_schemas),
            "description": (
                "Every event Orderflow records, its payload and version, and where it travels: "
                "the Celery queues of its handlers inside Orderflow, and, for public events, the "
                "envelope sent to webhooks, Redis Streams, NATS JetStream and Kafka. A payload "
                "whose shape changes gets a new version; consumers de-duplicate on the envelope id."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components_schemas, "messages": messages},
    }
    return json.dumps(doc, sort_keys=False)


def payload_schema(event_type: types.EventType[types.Payload]) -> JSONObject:
    """The JSON Schema of the type's stored payload, as serialized, self-contained
    (nested models under ``$defs``): what ``events/schemas.lock.json`` records."""
    return event_type.payload.model_json_schema(mode="serialization")


# --- schemas ------------------------------------------------------------------------


def _schema_name(event_type: types.EventType[types.Payload]) -> str:
    """``order.paid`` v1 → ``OrderPaidV1``: a component key AsyncAPI accepts."""
    words = event_type.name.replace("_", ".").split(".")
    return "".join(word.capitalize() for word in words) + f"V{event_type.version}"


def _add_payload_schema(event_type: types.EventType[types.Payload], components_schemas: JSONObject) -> str:
    schema = event_type.payload.model_json_schema(mode="serialization", ref_template=_REF_TEMPLATE)
    for name, nested in schema.pop("$defs", {}).items():
        components_schemas.setdefault(name, nested)
    name = f"{_schema_name(event_type)}Payload"
    schema["title"] = name
    components_schemas[name] = schema
    return f"#/components/schemas/{name}"


def _public_data_schema(event_type: types.EventType[types.Payload], payload_ref: str) -> JSONObject:
    """The envelope's ``data``: the payload without its private fields."""
    if not event_type.private:
        return {"$ref": payload_ref}
    full = event_type.payload.model_json_schema(mode="serialization", ref_template=_REF_TEMPLATE)
    full.pop("$defs", None)
    full["properties"] = {k: v for k, v in full["properties"].items() if k not in event_type.private}
    full["required"] = [k for k in full.get("required", []) if k not in event_type.private]
    full["title"] = f"{_schema_name(event_type)}PublicData"
    return full


def _envelope_schema(event_type: types.EventType[types.Payload], payload_ref: str) -> JSONObject:
    return {
        "type": "object",
        "title": f"{_schema_name(event_type)}Envelope",
        "description": "The public envelope: the same bytes on every channel and every re-send.",
        "additionalProperties": False,
        "required": ["id", "type", "version", "occurred_at", "subject", "sequence", "data"],
        "properties": {
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "Unique and stable across re-sends: de-duplicate on it.",
            },
            "type": {"type": "string", "const": event_type.name},
            "version": {"type": "integer", "const": event_type.version},
            "occurred_at": {"type": "string", "format": "date-time"},
            "subject": {
                "type": "string",
                "description": f"What the event is about: {event_type.stream}:<{event_type.stream}_id>.",
                "pattern": f"^{event_type.stream}:[0-9]+$",
            },
            "sequence": {
                "type": "integer",
                "minimum": 1,
                "description": "Grows in the order the subject's events committed: sort one subject's events by it.",
            },
            "data": _public_data_schema(event_type, payload_ref),
        },
    }


def _catalog_version(components_schemas: JSONObject) -> str:
    """Changes whenever any schema or version changes: ``1.<hash>``."""
    digest = hashlib.sha256(json.dumps(components_schemas, sort_keys=True).encode()).hexdigest()
    return f"1.0.0+{digest[:12]}"


# --- messages -----------------------------------------------------------------------


def _task_message_id(event_type: types.EventType[types.Payload]) -> str:
    return f"{event_type.name}.task"


def _public_message_id(event_type: types.EventType[types.Payload]) -> str:
    return event_type.name


def _task_message(event_type: types.EventType[types.Payload], payload_ref: str) -> JSONObject:
    return {
        "name": event_type.name,
        "title": f"{event_type.name} v{event_type.version} (handler task)",
        "summary": event_type.doc or event_type.name,
        "description": (
            "A Celery task message whose one argument is the id of a recorded event of this type; "
            f"the handler reads its stored payload (schema: {payload_ref.rsplit('/', 1)[-1]}, "
            "private fields included)."
        ),
        "payload": {
            "type": "array",
            "description": "The task's positional arguments: the event id.",
            # AsyncAPI schemas are JSON Schema draft 07: a tuple is "items" as a list.
            "items": [{"type": "integer", "minimum": 1}],
            "additionalItems": False,
            "minItems": 1,
        },
        "x-orderflow-event-version": event_type.version,
        "x-orderflow-payload": {"$ref": payload_ref},
    }


def _public_message(event_type: types.EventType[types.Payload], envelope_name: str) -> JSONObject:
    return {
        "name": event_type.name,
        "title": f"{event_type.name} v{event_type.version}",
        "summary": event_type.doc or event_type.name,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{envelope_name}"},
        "correlationId": {"description": "The envelope id.", "location": "$message.payload#/id"},
        "x-orderflow-event-version": event_type.version,
    }


# --- channels and operations --------------------------------------------------------


def _ref(*parts: str) -> JSONObject:
    # JSON Pointer escaping (RFC 6901) of each key
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)}


def _add_celery_channels(channels: JSONObject, operations: JSONObject) -> None:
    queues: dict[str, list[tuple[types.EventType[types.Payload], Subscription]]] = {}
    for event_type in types.all_types():
        for subscription in subscriptions_of(event_type):
            queues.setdefault(subscription.task.spec.queue, []).append((event_type, subscription))
    for queue in sorted(queues):
        channel_id = f"celery-{queue}"
        channels[channel_id] = {
            "address": queue,
            "title": f"Celery queue {queue}",
            "description": f"Handler tasks consumed by `celery -A project worker` from the queue {queue}.",
            "messages": {
                _task_message_id(et): _ref("components", "messages", _task_message_id(et))
                for et in sorted({et for et, _ in queues[queue]}, key=lambda t: t.name)
            },
        }
        for event_type, subscription in queues[queue]:
            spec = subscription.task.spec
            operations[f"handle-{spec.name}-on-{event_type.name}"] = {
                "action": "receive",
                "channel": _ref("channels", channel_id),
                "title": spec.name,
                "summary": ((subscription.task.__doc__ or "").strip().splitlines() or [spec.name])[0],
                "messages": [_ref("channels", channel_id, "messages", _task_message_id(event_type))],
                "x-orderflow-handler": {
                    "name": spec.name,
                    "max_attempts": spec.max_attempts,
                    "timeout_seconds": spec.timeout,
                },
            }


def _public_messages(event_types: Iterable[types.EventType[types.Payload]]) -> JSONObject:
    return {_public_message_id(t): _ref("components", "messages", _public_message_id(t)) for t in event_types}


def _add_public_channels(channels: JSONObject, operations: JSONObject) -> None:
    published = public.public_types()
    everything = _public_messages(published)
    # The names the exports app writes to (project/settings.py, "Event export to streams").
    prefix, nats_stream = settings.EVENTS_EXPORT_PREFIX, settings.EVENTS_EXPORT_NATS_STREAM
    shared = {
        "webhooks": (
            None,
            "Webhooks",
            "POST to every registered endpoint that subscribes to the type (Standard Webhooks 1.0: "
            "webhook-id = the envelope id, webhook-timestamp, webhook-signature). The address is the "
            "endpoint's URL, known when staff register it.",
        ),
        "redis-stream": (
            f"{prefix}.events",
            "Redis Stream",
            "XADD with the fields id, type and envelope (the JSON), when EVENTS_EXPORT_REDIS_URL is set "
            f"(with EVENTS_EXPORT_REDIS_STREAM_PER_TYPE, one stream {prefix}.<type> per type instead).",
        ),
        "kafka-topic": (
            f"{prefix}.events",
            "Kafka topic",
            "Keyed by the order id (one order's events stay in order), when EVENTS_EXPORT_KAFKA_BOOTSTRAP is set.",
        ),
    }
    for channel_id, (address, title, description) in shared.items():
        channels[channel_id] = {
            "address": address,
            "title": title,
            "description": description,
            "messages": dict(everything),
        }
        operations[f"publish-to-{channel_id}"] = {
            "action": "send",
            "channel": _ref("channels", channel_id),
            "title": f"Publish public events: {title}",
            "messages": [_ref("channels", channel_id, "messages", m) for m in everything],
        }
    for event_type in published:
        channel_id = f"nats-{event_type.name}"
        channels[channel_id] = {
            "address": f"{prefix}.{event_type.name}",
            "title": f"NATS JetStream subject {prefix}.{event_type.name}",
            "description": (
                f"In the JetStream stream {nats_stream} (subjects {prefix}.>), header Nats-Msg-Id = the envelope "
                "id, when EVENTS_EXPORT_NATS_URL is set."
            ),
            "messages": _public_messages([event_type]),
        }
        operations[f"publish-to-{channel_id}"] = {
            "action": "send",
            "channel": _ref("channels", channel_id),
            "title": f"Publish {event_type.name} to NATS",
            "messages": [_ref("channels", channel_id, "messages", _public_message_id(event_type))],
        }
