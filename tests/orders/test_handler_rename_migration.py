"""The declined-payment handler's new name: its open runs and kept tallies follow it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # as the other tests expect it


def migrate(targets):
    """Migrate to ``targets`` (what depends on a later migration is unapplied too) and
    return the models as the applied migrations leave them."""
    MigrationExecutor(connection).migrate(targets)
    executor = MigrationExecutor(connection)  # reloaded: it knows what is applied now
    return executor.loader.project_state(list(executor.loader.applied_migrations)).apps


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_latest")
def test_runs_and_tallies_of_orders_cancel_unpaid_are_renamed_orders_cancel_declined():
    old = migrate([("orders", "0005_order_charge_key")])
    event = old.get_model("events", "Event").objects.create(type="payment.failed", stream="order:1", payload={})
    old.get_model("events", "HandlerRun").objects.create(
        event=event, handler="orders.cancel_unpaid", deadline=timezone.now()
    )
    old.get_model("events", "PrunedTally").objects.create(
        counter="duration_count", label="orders.cancel_unpaid", value=3
    )

    new = migrate([("orders", "0006_rename_cancel_declined_handler")])

    assert list(new.get_model("events", "HandlerRun").objects.values_list("handler", flat=True)) == [
        "orders.cancel_declined"
    ]
    assert list(new.get_model("events", "PrunedTally").objects.values_list("label", "value")) == [
        ("orders.cancel_declined", 3)
    ]
