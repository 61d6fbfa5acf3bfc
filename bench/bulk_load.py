"""A million orders in the tables, fast: clone the rows real orders left, in SQL.

The growth section first runs a few hundred real orders through the whole pipeline,
so that every order-flow table (``flow_tables``) holds what production would: lines,
events, handler runs, payments, points, notifications, email records. Those rows are
the template. Each copy ``n`` of the template is inserted with one
``INSERT ... SELECT ... FROM <table>, generate_series(...)`` per table and batch of
copies, rewriting what must stay consistent and unique:

* the primary key: ``id + n * span`` (``span``: the template's id range in that table,
  so copies never collide with each other or with the template);
* a foreign key to another flow table: shifted the same way as that table's ids, so
  a cloned line belongs to its cloned order and a cloned run to its cloned event;
* a text column holding ``order:<id>`` (``Event.stream``): the cloned order's id, so
  the events of a clone are found by its stream as a real order's are; the
  ``order_id`` in a JSON payload likewise;
* a UUID (``Event.key``, a notification's ``source_event``): ``md5(uuid || n || salt)``,
  the same function everywhere, so references between tables stay consistent (the
  salt, the template's highest order id, keeps a second cloning from meeting the first);
* a text column that must be unique on its own (an email's Message-ID): a ``~n.salt``
  suffix, cut to fit;
* a timestamp: moved back by ``n`` steps, spreading the clones over the last
  ``SPREAD_DAYS`` days (less than the events' retention, so nothing gets pruned).

Everything else is copied. Which tables, which columns and what they point at is read
from the models and from ``information_schema``, never listed here: the events' tables
are being reworked, and this keeps working as they change. The id sequences are moved
past the clones at the end.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, models, transaction

from .flow_tables import flow_models, foreign_keys

SPREAD_DAYS = 20
ORDERS_PER_BATCH = 50_000  # orders cloned per transaction, with their rows in every table
ORDER_REFERENCE_COLUMNS = {"stream", "reference"}  # text columns that say "order:<id>"


@dataclass(frozen=True)
class Template:
    model: type[models.Model]
    table: str
    lo: int  # the template's id range
    hi: int

    @property
    def span(self) -> int:
        return self.hi - self.lo + 1


def templates() -> dict[type[models.Model], Template]:
    """Each non-empty flow table's id range: all its rows are the template."""
    found = {}
    with connection.cursor() as cursor:
        for model in flow_models():
            table, pk = model._meta.db_table, model._meta.pk.column
            cursor.execute(f"SELECT min({_q(pk)}), max({_q(pk)}) FROM {_q(table)}")
            lo, hi = cursor.fetchone()
            if lo is not None:
                found[model] = Template(model, table, lo, hi)
    return found


def insert_statement(t: Template, spans: dict, order_span: int, seconds_per_copy: float, salt: int) -> str:
    """``INSERT ... SELECT`` cloning copies ``%(first)s`` to ``%(last)s`` of the template ``t``."""
    fields = {f.column: f for f in t.model._meta.concrete_fields}
    shifted = {t.model._meta.pk.column} | {f.column for f in foreign_keys(t.model) if f.related_model in spans}
    shifted |= {f.column for f in fields.values() if isinstance(f, models.UUIDField)}
    suffixed = _unique_text_columns(t.model, shifted)
    columns = _database_columns(t.table)
    expressions = []
    for column in columns:
        field = fields.get(column)
        src = f"src.{_q(column)}"
        if field is None:
            expressions.append(src)
        elif field.primary_key:
            expressions.append(f"{src} + copy.n * {t.span}")
        elif field.is_relation and field.related_model in spans:
            expressions.append(f"{src} + copy.n * {spans[field.related_model]}")
        elif isinstance(field, models.UUIDField):
            expressions.append(f"md5({src}::text || ':' || copy.n || ':{salt}')::uuid")
        elif isinstance(field, models.JSONField):
            order_id = f"({src}->>'order_id')::bigint + copy.n * {order_span}"
            expressions.append(
                f"CASE WHEN jsonb_typeof({src}) = 'object' AND {src} ? 'order_id' "
                f"THEN jsonb_set({src}, '{{order_id}}', to_jsonb({order_id})) ELSE {src} END"
            )
        elif column in ORDER_REFERENCE_COLUMNS:
            expressions.append(
                f"CASE WHEN {src} ~ '^order:[0-9]+$' "
                f"THEN 'order:' || (substr({src}, 7)::bigint + copy.n * {order_span}) ELSE {src} END"
            )
        elif column in suffixed:
            suffix = f"'~' || copy.n || '.{salt}'"
            keep = f"left({src}, {field.max_length - 10 - len(str(salt))})" if field.max_length else src
            expressions.append(f"{keep} || {suffix}")
        elif isinstance(field, models.DateTimeField):
            expressions.append(f"{src} - make_interval(secs => copy.n * {seconds_per_copy})")
        else:
            expressions.append(src)
    pk = _q(t.model._meta.pk.column)
    return (
        f"INSERT INTO {_q(t.table)} ({', '.join(map(_q, columns))}) "
        f"SELECT {', '.join(expressions)} FROM {_q(t.table)} AS src, generate_series(%(first)s, %(last)s) AS copy(n) "
        f"WHERE src.{pk} BETWEEN {t.lo} AND {t.hi}"
    )


def clone_to(target_orders: int, progress: Callable[[str], None]) -> dict:
    """Clone the template until the orders table holds at least ``target_orders``
    rows; returns what it did. The caller makes sure no work is in flight."""
    from orders.models import Order

    started = time.monotonic()
    found = templates()
    if Order not in found:
        raise RuntimeError("no orders to clone: run some through the pipeline first")
    template_orders = Order.objects.count()
    copies = max(0, math.ceil((target_orders - template_orders) / template_orders))
    spans = {model: t.span for model, t in found.items()}
    seconds_per_copy = SPREAD_DAYS * 86400 / max(copies, 1)
    salt = found[Order].hi
    statements = [insert_statement(t, spans, spans[Order], seconds_per_copy, salt) for t in found.values()]
    per_batch = max(1, ORDERS_PER_BATCH // template_orders)
    for first in range(1, copies + 1, per_batch):
        last = min(copies, first + per_batch - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement, {"first": first, "last": last})
        progress(f"cloned {last * template_orders + template_orders:,} orders of {target_orders:,}")
    _move_sequences(found.values())
    rows = _row_counts(found.values())
    return {
        "template_orders": template_orders,
        "copies": copies,
        "rows": rows,
        "orders": rows[Order._meta.db_table],
        "seconds": time.monotonic() - started,
    }


def vacuum_analyze() -> float:
    """VACUUM ANALYZE the flow tables (fresh statistics, a visibility map), then a
    CHECKPOINT, so that the gigabytes the load dirtied are written now rather than by the
    checkpointer during the measurements that follow (which would then measure the load's
    I/O, not the tables' size); returns seconds."""
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(_q(m._meta.db_table) for m in flow_models())}")
        cursor.execute("CHECKPOINT")
    return time.monotonic() - started


def _unique_text_columns(model, shifted: set[str]) -> set[str]:
    """Text columns that would collide between copies: unique on their own, or members
    of a unique constraint none of whose columns is shifted per copy."""
    text = {f.column: f for f in model._meta.concrete_fields if isinstance(f, models.CharField | models.TextField)}
    found = {column for column, f in text.items() if f.unique}
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            columns = {model._meta.get_field(name).column for name in constraint.fields}
            if not columns & shifted:
                found |= columns & set(text)
    return found


def _database_columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND is_generated = 'NEVER' "
            "ORDER BY ordinal_position",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def _move_sequences(found) -> None:
    with connection.cursor() as cursor:
        for t in found:
            pk = t.model._meta.pk.column
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), (SELECT max({_q(pk)}) FROM {_q(t.table)}))",
                [_q(t.table), pk],
            )


def _row_counts(found) -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for t in found:
            cursor.execute(f"SELECT count(*) FROM {_q(t.table)}")
            counts[t.table] = cursor.fetchone()[0]
    return counts


def _q(name: str) -> str:
    return connection.ops.quote_name(name)
