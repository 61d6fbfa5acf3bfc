"""Event types: a Django ``Signal`` that knows its name and payload.

Each app declares the events it publishes in its ``signals.py`` as ``EventType``s. The
events dispatcher sends the signal after commit, with the stored ``Event`` as
``event``; receivers never run inside the transaction that recorded it.
"""

from django.dispatch import Signal

_registry: dict[str, "EventType"] = {}


class EventType(Signal):
    def __init__(self, name: str, *, fields: tuple[str, ...], stream: str = "order", doc: str = "") -> None:
        super().__init__()
        if name in _registry:
            raise ValueError(f"event type {name!r} is declared twice")
        self.name = name
        self.fields = tuple(fields)
        self.stream = stream
        self.doc = doc
        _registry[name] = self

    def stream_of(self, payload: dict) -> str:
        return f"{self.stream}:{payload[self.stream + '_id']}"

    def __repr__(self) -> str:
        return f"<EventType {self.name}>"


def get(name: str) -> EventType:
    return _registry[name]


def all_types() -> list[EventType]:
    return sorted(_registry.values(), key=lambda t: t.name)
