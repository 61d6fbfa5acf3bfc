"""Event types: a Django ``Signal`` with a name, a version and a typed payload.

Each app declares the events it publishes in its ``signals.py``: a ``Payload`` (a
frozen, strict pydantic model: the fields and their types) and the ``EventType`` that
names it::

    class OrderPaid(Payload):
        order_id: int
        total: Decimal

    order_paid = EventType("order.paid", OrderPaid, doc="The order's payment was captured.")

A payload is checked when it is made (``OrderPaid(order_id=1, total="9")`` is refused:
a string is not a ``Decimal``), stored as JSON with the type's version, and handed to
handlers typed again (``event.data.total`` is a ``Decimal``). A payload whose shape
changes gets a new version and an upcaster from the old one, so events stored before
the change are still read (``EventType.upcaster``). The JSON Schema of each payload
(``Payload.model_json_schema()``) is the published contract of the event.

The events dispatcher sends the signal after the recording transaction committed,
with the stored ``Event`` as ``event``; each receiver answers with the handler task
to run (``events.subscriptions``).
"""

from collections.abc import Callable
from typing import ClassVar

from django.dispatch import Signal
from pydantic import BaseModel, ConfigDict

_registry: dict[str, "EventType"] = {}


class Payload(BaseModel):
    """The typed data of one event type: immutable, strict (no coercion: an ``int``
    field takes no ``"1"``, a ``Decimal`` no ``"9.90"``) and closed (an unknown field
    is an error). Stored JSON is read back leniently (``Decimal`` from its string)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    event_type: ClassVar["EventType | None"] = None


Upcaster = Callable[[dict], dict]


class EventType(Signal):
    """One kind of event. ``stream`` names what its events are about: each payload
    has a ``<stream>_id`` field, and ``<stream>:<id>`` (e.g. ``order:42``) is the
    stream of the event, the timeline it belongs to. ``private`` fields (e.g. a
    payment token) are never shown to customers nor published."""

    def __init__(
        self,
        name: str,
        payload: type[Payload],
        *,
        stream: str,
        version: int = 1,
        private: tuple[str, ...] = (),
        doc: str = "",
    ) -> None:
        super().__init__()
        if name in _registry:
            raise ValueError(f"event type {name!r} is declared twice")
        fields = set(payload.model_fields)
        if not set(private) <= fields:
            raise ValueError(f"event type {name!r}: private fields must be payload fields")
        if f"{stream}_id" not in fields:
            raise ValueError(f"event type {name!r}: its payload needs a {stream}_id field (its stream)")
        if payload.event_type is not None:
            raise ValueError(f"{payload.__name__} is already the payload of {payload.event_type.name}")
        if version < 1:
            raise ValueError(f"event type {name!r}: versions start at 1")
        self.name = name
        self.payload = payload
        self.version = version
        self.stream = stream
        self.private = tuple(private)
        self.doc = doc
        self._upcasters: dict[int, Upcaster] = {}
        payload.event_type = self
        _registry[name] = self

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.payload.model_fields)

    def upcaster(self, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register ``fn(payload dict) -> payload dict`` turning a stored payload of
        ``from_version`` into one of ``from_version + 1``."""

        def register(fn: Upcaster) -> Upcaster:
            if not 1 <= from_version < self.version:
                raise ValueError(f"{self.name}: no version {from_version} to upcast from (current {self.version})")
            self._upcasters[from_version] = fn
            return fn

        return register

    def dump(self, data: Payload) -> dict:
        """The payload as stored: JSON types only (a ``Decimal`` as its string)."""
        if type(data) is not self.payload:
            raise TypeError(f"{self.name} takes a {self.payload.__name__}, not a {type(data).__name__}")
        return data.model_dump(mode="json")

    def load(self, stored: dict, *, version: int) -> Payload:
        """A stored payload, typed, upcast from the version it was written with."""
        if version > self.version:
            raise ValueError(f"{self.name} v{version} is newer than this code knows (v{self.version})")
        for step in range(version, self.version):
            if step not in self._upcasters:
                raise ValueError(f"{self.name}: no upcaster from v{step}")
            stored = self._upcasters[step](stored)
        return self.payload.model_validate(stored, strict=False)

    def stream_of(self, data: Payload) -> str:
        return f"{self.stream}:{getattr(data, self.stream + '_id')}"

    def public(self, stored: dict) -> dict:
        """A stored payload as a customer may see it: without the private fields."""
        return {k: v for k, v in stored.items() if k not in self.private}

    def __repr__(self) -> str:
        return f"<EventType {self.name} v{self.version}>"


def get(name: str) -> EventType:
    return _registry[name]


def all_types() -> list[EventType]:
    return sorted(_registry.values(), key=lambda t: t.name)
