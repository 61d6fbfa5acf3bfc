"""The statements every event and every handler run pays, written out in SQL.

A handler run: claiming it (with its event) and marking it done. A dispatcher pass:
claiming a batch of events, and marking them dispatched. Through the ORM each of these
cost about four times the CPU of the statement itself (building the query, the join,
the model instances): measured, a third of a short handler's CPU. Table and column
names come from the models, so the SQL follows them; values go through the backend's
own adapters and field converters, as the ORM's do.

Only the usual case is served here (a pending run with attempts left); anything else
is the handler runtime's to look at with the ORM (``events.handlers``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field
from django.db.models.expressions import Col
from django.utils import timezone

from .models import Event, HandlerRun

# The event's columns a handler needs, in this order.
EVENT_FIELDS = ("id", "key", "type", "version", "stream", "payload")


# What the ORM passes a column's value through: (value, expression, connection) -> value.
Converter = Callable[[object, Col, BaseDatabaseWrapper], object]


@dataclass(frozen=True)
class Claim:
    run_id: int
    status: str
    attempts: int
    event: Event


def claim(event_id: int, handler: str) -> Claim | None:
    """Lock the run of ``handler`` on the event, with its event, in the caller's
    transaction; None if there is no such run or another transaction holds it (the
    caller tells the two apart)."""
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), [event_id, handler])
        row = cursor.fetchone()
    if row is None:
        return None
    run_id, status, attempts, *event_values = row
    fields = _concrete_fields(Event, EVENT_FIELDS)
    values = [_from_db(field, value) for field, value in zip(fields, event_values, strict=True)]
    return Claim(
        run_id=run_id, status=status, attempts=attempts, event=Event.from_db(connection.alias, EVENT_FIELDS, values)
    )


def finish(run_id: int, *, attempts: int, started_at: datetime, duration: float) -> None:
    """Mark the claimed run done: its attempt counted, its timing kept, its error and
    its count of unanswered re-sends cleared (a worker took it)."""
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _finish_sql(),
            [HandlerRun.Status.DONE, attempts, adapt(started_at), adapt(now), duration, adapt(now), run_id],
        )


# The columns of an event the dispatcher claims, in this order.
CLAIMED_EVENT_FIELDS = (*EVENT_FIELDS, "dispatch_attempts")


def claim_events(*, now: datetime, until: datetime, limit: int, ids: list[int] | None = None) -> list[Event]:
    """Claim up to ``limit`` undispatched events, oldest first, in one statement: count
    a dispatch attempt on each and hold it until ``until`` (``next_dispatch_at``), so
    that other dispatchers pass over it. Those another dispatcher is claiming at the
    same moment are passed over (SKIP LOCKED). Without ``ids``, only events that are
    due (not held, not backing off); with ``ids``, those of them not yet dispatched,
    held or not (staff asked)."""
    adapt = connection.ops.adapt_datetimefield_value
    if ids is None:
        params = [adapt(until), adapt(now), limit]
        sql = _claim_events_sql(due_only=True, ids=0)
    else:
        params = [adapt(until), *ids, limit]
        sql = _claim_events_sql(due_only=False, ids=len(ids))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    fields = _concrete_fields(Event, CLAIMED_EVENT_FIELDS)
    events = [
        Event.from_db(
            connection.alias,
            CLAIMED_EVENT_FIELDS,
            [_from_db(field, value) for field, value in zip(fields, row, strict=True)],
        )
        for row in rows
    ]
    return sorted(events, key=lambda event: event.pk)


def mark_dispatched(event_ids: list[int], *, at: datetime) -> int:
    """Mark these events dispatched at ``at``, their claim and error cleared."""
    if not event_ids:
        return 0
    q = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * len(event_ids))
    sql = (
        f"UPDATE {q(Event._meta.db_table)} SET {q('dispatched_at')} = %s, {q('next_dispatch_at')} = NULL, "
        f"{q('last_dispatch_error')} = '' WHERE {q('id')} IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(at), *event_ids])
        updated: int = cursor.rowcount
        return updated


def insert_runs(runs: list[tuple[int, str, datetime]]) -> None:
    """Write a batch's new handler runs, ``(event id, handler, deadline)`` each, pending
    and sent once, in one INSERT; a run that exists already (a worker made it for a
    task sent by other means) is left as it is."""
    if not runs:
        return
    q = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    columns = (
        *("event_id", "handler", "status", "attempts", "enqueued", "resends", "last_error", "deadline"),
        *("created_at", "updated_at"),
    )
    now = adapt(timezone.now())
    row = f"({', '.join(['%s'] * len(columns))})"
    sql = (
        f"INSERT INTO {q(HandlerRun._meta.db_table)} ({', '.join(q(c) for c in columns)}) "
        f"VALUES {', '.join([row] * len(runs))} ON CONFLICT DO NOTHING"
    )
    params: list[int | str | None] = []
    for event_id, handler, deadline in runs:
        params += [event_id, handler, HandlerRun.Status.PENDING, 0, 1, 0, "", adapt(deadline), now, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _concrete_fields(model: type[Event] | type[HandlerRun], names: tuple[str, ...]) -> list["Field[Any, Any]"]:
    return [_concrete_field(model, name) for name in names]


def _concrete_field(model: type[Event] | type[HandlerRun], name: str) -> "Field[Any, Any]":
    """The model's field of that name, which must be a column of its table (not a
    relation seen from the other side)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def _from_db(field: "Field[Any, Any]", value: object) -> object:
    """A column's value as the ORM would hand it over: the backend's converters, then
    the field's own (a UUID from SQLite's text, a JSON document from its text)."""
    col, converters = _converters(field)
    for converter in converters:
        value = converter(value, col, connection)
    return value


@cache
def _converters(field: "Field[Any, Any]") -> tuple[Col, tuple[Converter, ...]]:
    col = field.get_col(field.model._meta.db_table)
    # The column's converters are its field's (Col.get_db_converters), as the ORM applies them.
    return col, tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection))


@cache
def _claim_sql() -> str:
    q = connection.ops.quote_name
    run, event = HandlerRun._meta, Event._meta
    event_id = q(_concrete_field(HandlerRun, "event").column)
    columns = ", ".join(f"e.{q(field.column)}" for field in _concrete_fields(Event, EVENT_FIELDS))
    features = connection.features
    lock = ""
    if features.has_select_for_update_skip_locked:
        lock = "FOR UPDATE OF r SKIP LOCKED" if features.has_select_for_update_of else "FOR UPDATE SKIP LOCKED"
    return (
        f"SELECT r.{q('id')}, r.{q('status')}, r.{q('attempts')}, {columns} "
        f"FROM {q(run.db_table)} r JOIN {q(event.db_table)} e ON e.{q('id')} = r.{event_id} "
        f"WHERE r.{event_id} = %s AND r.{q('handler')} = %s {lock}"
    )


@cache
def _finish_sql() -> str:
    q = connection.ops.quote_name
    columns = ("status", "attempts", "started_at", "finished_at", "last_duration", "updated_at")
    assignments = ", ".join(f"{q(column)} = %s" for column in columns)
    return (
        f"UPDATE {q(HandlerRun._meta.db_table)} SET {assignments}, {q('resends')} = 0, {q('last_error')} = '' "
        f"WHERE {q('id')} = %s"
    )


@cache
def _claim_events_sql(*, due_only: bool, ids: int) -> str:
    q = connection.ops.quote_name
    table = q(Event._meta.db_table)
    columns = ", ".join(q(field.column) for field in _concrete_fields(Event, CLAIMED_EVENT_FIELDS))
    which = f"{q('dispatched_at')} IS NULL"
    if due_only:
        which += f" AND ({q('next_dispatch_at')} IS NULL OR {q('next_dispatch_at')} <= %s)"
    if ids:
        which += f" AND {q('id')} IN ({', '.join(['%s'] * ids)})"
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return (
        f"UPDATE {table} SET {q('dispatch_attempts')} = {q('dispatch_attempts')} + 1, {q('next_dispatch_at')} = %s "
        f"WHERE {q('id')} IN (SELECT {q('id')} FROM {table} WHERE {which} ORDER BY {q('id')} LIMIT %s{lock}) "
        f"RETURNING {columns}"
    )
