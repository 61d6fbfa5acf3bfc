"""Event types: a Django ``Signal`` that knows its name and payload.

Each app declares the events it publishes in its ``signals.py`` as ``EventType``s. The
events dispatcher sends the signal after commit, with the stored ``Event`` as
``event``; receivers never run inside the transaction that recorded it.
"""

from django.dispatch import Signal

_registry: dict[str, "EventType"] = {}


class EventType(Signal):
    def __init__(
        self, name: str, *, fields: tuple[str, ...], private: tuple[str, ...] = (), stream: str = "order", doc: str = ""
    ) -> None:
        super().__init__()
        if name in _registry:
            raise ValueError(f"event type {name!r} is declared twice")
        if not set(private) <= set(fields):
            raise ValueError(f"event type {name!r}: private fields must be payload fields")
        self.name = name
        self.fields = tuple(fields)
        self.private = tuple(private)
        self.stream = stream
        self.doc = doc
        _registry[name] = self

    def public(self, payload: dict) -> dict:
        """The payload as a customer may see it: without the private fields."""
        return {k: v for k, v in payload.items() if k not in self.private}

    def stream_of(self, payload: dict) -> str:
        return f"{self.stream}:{payload[self.stream + '_id']}"

    def __repr__(self) -> str:
        return f"<EventType {self.name}>"


def get(name: str) -> EventType:
    return _registry[name]


def all_types() -> list[EventType]:
    return sorted(_registry.values(), key=lambda t: t.name)
