"""The tables an order's life writes to, found from the models rather than listed.

``Order`` and ``Event``, and every model that points at one of them (directly or
through another such model): order lines, handler runs, payments, points entries,
notifications, email records, and whatever the apps add later. The bench empties
them to start a section from fresh tables, and the growth section clones their rows.
Reading them from Django's model registry keeps both right while the apps change.
"""

from django.apps import apps
from django.db import connection
from django.db.models import Model

from events.models import Event
from orders.models import Order


def flow_models() -> list[type[Model]]:
    """``Order``, ``Event`` and every model that refers to one of them, parents first."""
    found: list[type[Model]] = [Order, Event]
    grew = True
    while grew:
        grew = False
        for model in apps.get_models():
            if model in found or model._meta.proxy or not model._meta.managed:
                continue
            if any(field.related_model in found for field in foreign_keys(model)):
                found.append(model)
                grew = True
    return found


def foreign_keys(model: type[Model]) -> list:
    return [f for f in model._meta.concrete_fields if f.is_relation and (f.many_to_one or f.one_to_one)]


def truncate_flow_tables() -> list[str]:
    """Empty every flow table at once (the catalog, accounts and tokens stay); returns
    the tables. The caller makes sure no worker is still writing to them."""
    tables = [model._meta.db_table for model in flow_models()]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(connection.ops.quote_name(t) for t in tables)} CASCADE")
    return tables
