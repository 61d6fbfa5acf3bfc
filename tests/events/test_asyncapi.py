"""The event catalog as AsyncAPI 3.0: valid by the specification's own schema, true to
what is sent, served over HTTP, written by the command; and no payload changes under
its version."""

import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from django.core.management import CommandError, call_command

from events import asyncapi, public, schema_lock, types
from events.models import Event
from events.types import EventType, Payload
from tests.factories import place_order

SPEC_SCHEMA = json.loads((Path(__file__).parent / "asyncapi" / "asyncapi-3.0.0.schema.json").read_text())


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _validator_for(document: dict, component: str) -> jsonschema.Draft7Validator:
    """Validates against ``components/schemas/<component>``, resolving the document's refs."""
    return jsonschema.Draft7Validator({**document, "$ref": f"#/components/schemas/{component}"})


def test_the_catalog_is_a_valid_asyncapi_3_document():
    document = asyncapi.document()

    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft7Validator(SPEC_SCHEMA).iter_errors(document)
    ]

    assert errors == []
    assert document["asyncapi"] == "3.0.0"


def test_every_reference_in_the_catalog_resolves():
    document = asyncapi.document()

    refs = set(_refs(document))

    assert refs, "the catalog refers to its components"
    for ref in refs:
        _resolve(document, ref)  # a KeyError names the dangling one


def test_every_event_type_is_in_the_catalog_with_its_version_and_each_handler_on_its_queue():
    document = asyncapi.document()
    messages = document["components"]["messages"]

    for event_type in types.all_types():
        assert messages[f"{event_type.name}.task"]["x-orderflow-event-version"] == event_type.version
    for name in public.PUBLIC_EVENT_TYPES:
        assert messages[name]["payload"]["$ref"].endswith("Envelope")
        assert document["channels"][f"nats-{name}"]["address"] == f"orderflow.{name}"
    charge = document["operations"]["handle-payments.charge_order-on-order.placed"]
    assert charge["action"] == "receive"
    assert _resolve(document, charge["channel"]["$ref"])["address"] == "payments"
    assert {"webhooks", "redis-stream", "kafka-topic"} <= set(document["channels"])


def test_a_real_envelope_matches_its_schema_in_the_catalog_and_a_private_field_would_not(db, shopper, mug):
    order = place_order(shopper.customer, {mug: 2})
    event = Event.objects.get(stream=f"order:{order.pk}", type="order.placed")
    document = asyncapi.document()
    validator = _validator_for(document, "OrderPlacedV1Envelope")
    sent = json.loads(public.envelope_json(event))

    assert list(validator.iter_errors(sent)) == []
    leaked = {**sent, "data": {**sent["data"], "payment_token": "tok_ok"}}
    assert not validator.is_valid(leaked)
    assert not validator.is_valid({**sent, "version": 2})


def test_the_catalog_is_served_over_http_to_anyone(client):
    response = client.get("/api/events/asyncapi.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == asyncapi.document()
    refused = client.post("/api/events/asyncapi.json")
    assert refused.status_code == 405
    assert refused["Allow"] == "GET, HEAD"
    assert refused.json()["error"]["code"] == "method_not_allowed"


def test_the_command_writes_the_same_document(tmp_path):
    out = tmp_path / "asyncapi.json"

    call_command("events", "catalog", "--format", "asyncapi", "--output", str(out))

    assert json.loads(out.read_text()) == asyncapi.document()


# --- no schema change without a version bump ------------------------------------------


def test_every_declared_payload_matches_the_schema_recorded_for_its_version():
    assert schema_lock.problems() == []
    call_command("events", "schemas")  # what CI's suite and a contributor run


class Shipment(Payload):
    shipment_id: int
    weight: Decimal


@pytest.fixture
def shipment_type():
    def declare(version: int) -> EventType:
        return EventType("tests.shipment_sent", Shipment, version=version, stream="shipment")

    yield declare
    types._registry.pop("tests.shipment_sent", None)
    Shipment.event_type = None


def test_a_payload_changed_without_a_version_bump_is_reported(shipment_type):
    event_type = shipment_type(1)
    older = {**asyncapi.payload_schema(event_type)}
    older["properties"] = {"shipment_id": older["properties"]["shipment_id"]}
    older["required"] = ["shipment_id"]
    lock = {**schema_lock.load(), "tests.shipment_sent": {"1": older}}

    assert schema_lock.problems(lock) == [
        "tests.shipment_sent v1: its payload schema changed without a version bump. Give the type version=2 "
        "and an upcaster from v1, then run `python manage.py events schemas --record`"
    ]


def test_a_new_version_must_be_recorded_and_recording_never_rewrites_an_old_one(shipment_type, tmp_path):
    event_type = shipment_type(2)
    path = tmp_path / "lock.json"
    v1 = {"title": "the schema v1 was published with"}
    path.write_text(json.dumps({**schema_lock.load(), "tests.shipment_sent": {"1": v1}}))

    assert schema_lock.problems(schema_lock.load(path)) == [
        "tests.shipment_sent v2 is not recorded: run `python manage.py events schemas --record`"
    ]
    assert schema_lock.record(path) == ["tests.shipment_sent v2"]
    recorded = schema_lock.load(path)["tests.shipment_sent"]
    assert recorded == {"1": v1, "2": asyncapi.payload_schema(event_type)}
    assert schema_lock.problems(schema_lock.load(path)) == []


def test_a_version_lower_than_one_published_is_refused(shipment_type):
    shipment_type(1)
    lock = {**schema_lock.load(), "tests.shipment_sent": {"2": {}}}

    assert schema_lock.problems(lock) == ["tests.shipment_sent is v1, but v2 was published: versions only go up"]


def test_the_command_fails_naming_the_type_whose_schema_changed(shipment_type, tmp_path, monkeypatch):
    shipment_type(1)
    path = tmp_path / "lock.json"
    path.write_text(json.dumps({**schema_lock.load(), "tests.shipment_sent": {"1": {"title": "old"}}}))
    monkeypatch.setattr(schema_lock, "LOCK_FILE", path)

    with pytest.raises(CommandError, match=r"tests\.shipment_sent v1: its payload schema changed"):
        call_command("events", "schemas")


def test_rewording_a_payloads_docstring_or_title_is_no_new_version(shipment_type):
    event_type = shipment_type(1)
    reworded = json.loads(json.dumps(asyncapi.payload_schema(event_type)))
    reworded["title"] = "ShipmentRenamed"
    reworded["description"] = "A parcel left the warehouse (reworded)."
    reworded["properties"]["weight"]["title"] = "Weight in kilograms"
    lock = {**schema_lock.load(), "tests.shipment_sent": {"1": reworded}}

    assert schema_lock.problems(lock) == []
