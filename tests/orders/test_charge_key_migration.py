"""Migrating to keys kept on orders: an order placed before keeps its order.placed
event's key, so a charge made under it is still found by a later void or retry."""

import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("orders", "0004_dashboard_indexes"), ("payments", "0002_payment_charge_key")]
AFTER = [("orders", "0005_order_charge_key"), ("payments", "0003_charge_key_always_set")]


def migrate(targets):
    """Migrate to ``targets`` (what depends on a later migration is unapplied too) and
    return the models as the applied migrations leave them."""
    MigrationExecutor(connection).migrate(targets)
    executor = MigrationExecutor(connection)  # reloaded: it knows what is applied now
    return executor.loader.project_state(list(executor.loader.applied_migrations)).apps


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # as the other tests expect it


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_latest")
def test_orders_placed_before_keep_their_placed_events_key_and_payments_get_theirs():
    old = migrate(BEFORE)
    user = old.get_model(settings.AUTH_USER_MODEL).objects.create(username="before")
    customer = old.get_model("customers", "Customer").objects.create(user=user)
    Order = old.get_model("orders", "Order")
    with_event, without_event = (Order.objects.create(customer=customer, total="5.00", currency="EUR") for _ in "ab")
    placed_key = uuid.uuid4()
    old.get_model("events", "Event").objects.create(
        key=placed_key, type="order.placed", stream=f"order:{with_event.pk}", payload={}
    )
    old.get_model("payments", "Payment").objects.create(
        order_id=with_event.pk, amount="5.00", currency="EUR", gateway="sandbox", charge_key=""
    )

    new = migrate(AFTER)

    keys = dict(new.get_model("orders", "Order").objects.values_list("pk", "charge_key"))
    assert keys[with_event.pk] == placed_key
    assert isinstance(keys[without_event.pk], uuid.UUID)
    assert keys[without_event.pk] != placed_key
    payment = new.get_model("payments", "Payment").objects.get(order_id=with_event.pk)
    assert payment.charge_key == str(placed_key)
