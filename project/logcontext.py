"""What a log line is about: the order, event, handler and task being worked on.

Code that knows opens a ``log_context(order_id=..., ...)`` (or ``bind``s a field it
learns on the way); ``ContextFilter``, on the log handlers, copies the fields onto
every record logged meanwhile, in whatever module, so the JSON lines of one order can
be found across the web and worker processes. Context variables keep concurrent
requests and tasks apart, and each scope is reset when it ends.

Set in one place each: ``LogContextMiddleware`` (a request's scope; the order
services bind ``order_id`` and ``event_id``), ``events.services.dispatch`` (the
dispatcher), ``events.handlers.run_handler`` (a handler run).
"""

import logging
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("request_id", "order_id", "event_id", "handler", "task_id")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_fields: ContextVar[dict | None] = ContextVar("orderflow_log_context", default=None)


@contextmanager
def log_context(**fields):
    """Add ``fields`` to every log record until the block ends (then they are back
    to what they were)."""
    token = _fields.set({**(_fields.get() or {}), **_known(fields)})
    try:
        yield
    finally:
        _fields.reset(token)


def bind(**fields) -> None:
    """Add ``fields`` to the current scope (until its ``log_context`` ends)."""
    _fields.set({**(_fields.get() or {}), **_known(fields)})


def current() -> dict:
    return dict(_fields.get() or {})


def order_id_of(stream: str) -> int | None:
    """The order an event's stream (``order:42``) is about, if it is about one."""
    kind, _, ident = stream.partition(":")
    return int(ident) if kind == "order" and ident.isdigit() else None


def _known(fields: dict) -> dict:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context fields: {sorted(unknown)}")
    return {k: v for k, v in fields.items() if v is not None}


class ContextFilter(logging.Filter):
    """Copies the current context onto each record (fields not in context are left
    out of the line, not written as null)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_fields.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class LogContextMiddleware:
    """Each request gets its own scope (and an id, taken from ``X-Request-ID`` when
    a proxy sent one), so what one request binds never leaks into the next."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-ID", "")
        if not REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        with log_context(request_id=request_id):
            return self.get_response(request)
