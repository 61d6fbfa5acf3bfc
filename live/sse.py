"""The Server-Sent Events wire format (WHATWG HTML, "Server-sent events")."""


def message(*, event_id: int, event_type: str, data: bytes) -> bytes:
    """One event: ``id`` is what the browser sends back as ``Last-Event-ID``. ``data``
    is one line (compact JSON escapes every newline), so it needs no splitting."""
    if b"\n" in data or b"\r" in data:
        raise ValueError("an SSE data line may not hold a line break")
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, event_type.encode(), data)


def comment(text: str) -> bytes:
    """A comment line: ignored by the client, it keeps proxies from closing an idle
    connection (the heartbeat)."""
    return f": {text}\n\n".encode()


def retry(milliseconds: int) -> bytes:
    """How long the browser waits before it reconnects after the stream ends."""
    return f"retry: {milliseconds}\n\n".encode()
