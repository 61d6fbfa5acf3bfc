"""Event types: typed payloads, their versions, and reading events written by an older
version of the code."""

from decimal import Decimal

import pytest

from events import types
from events.models import Event
from events.types import EventType, Payload


class Parcel(Payload):
    parcel_id: int
    weight: Decimal  # v2: grams became a Decimal of kilograms
    carrier: str  # v2: new, "unknown" for parcels recorded before


@pytest.fixture
def parcel_shipped():
    event_type = EventType("tests.parcel_shipped", Parcel, version=2, stream="parcel")

    @event_type.upcaster(from_version=1)
    def grams_to_kilograms(stored: dict) -> dict:
        return {"parcel_id": stored["parcel_id"], "weight": str(Decimal(stored["grams"]) / 1000), "carrier": "unknown"}

    yield event_type
    types._registry.pop(event_type.name)
    Parcel.event_type = None


def test_an_event_stored_by_an_older_version_is_read_upcast_and_typed(parcel_shipped):
    old = Event(type="tests.parcel_shipped", version=1, stream="parcel:3", payload={"parcel_id": 3, "grams": 1250})
    new = Event(
        type="tests.parcel_shipped",
        version=2,
        stream="parcel:4",
        payload=parcel_shipped.dump(Parcel(parcel_id=4, weight=Decimal("0.5"), carrier="DHL")),
    )

    assert old.data == Parcel(parcel_id=3, weight=Decimal("1.25"), carrier="unknown")
    assert new.data == Parcel(parcel_id=4, weight=Decimal("0.5"), carrier="DHL")
    assert new.payload == {"parcel_id": 4, "weight": "0.5", "carrier": "DHL"}


def test_an_event_of_a_version_newer_than_the_code_is_refused(parcel_shipped):
    future = Event(type="tests.parcel_shipped", version=3, stream="parcel:5", payload={"parcel_id": 5})

    with pytest.raises(ValueError, match="newer than this code knows"):
        future.data  # noqa: B018


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"stream": "box"}, "needs a box_id field"),
        ({"private": ("token",)}, "private fields must be payload fields"),
        ({"version": 0}, "versions start at 1"),
    ],
)
def test_an_event_type_declared_wrongly_is_refused_at_import(declaration, message):
    class Box(Payload):
        parcel_id: int

    with pytest.raises(ValueError, match=message):
        EventType("tests.box_packed", Box, **{"stream": "parcel", **declaration})
    assert "tests.box_packed" not in {t.name for t in types.all_types()}


def test_a_payload_belongs_to_one_event_type(parcel_shipped):
    with pytest.raises(ValueError, match=r"already the payload of tests\.parcel_shipped"):
        EventType("tests.parcel_lost", Parcel, stream="parcel")


def test_an_order_cancelled_event_of_v1_is_read_with_its_reason_as_one_of_the_reasons():
    from orders.signals import CancelReason

    v1 = Event(
        type="order.cancelled",
        version=1,
        stream="order:9",
        payload={"order_id": 9, "customer_id": 2, "reason": "payment_declined", "was_paid": False},
    )

    assert v1.data.reason is CancelReason.PAYMENT_DECLINED
    assert v1.event_type.version == 2
