"""Orders keep their charge key (the gateway idempotency key of their one charge).

Until now the payments app read it from the order's ``order.placed`` event, which
retention prunes. Existing orders take their ``order.placed`` event's key, so a charge
already made under it is still found by a later void or retry; an order whose event is
gone gets a new key (its payment, if any, keeps the key it was charged with).
"""

import uuid

from django.db import migrations, models


def keys_from_placed_events(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    Event = apps.get_model("events", "Event")
    placed = Event.objects.filter(type="order.placed", stream=models.functions.Concat(
        models.Value("order:"), models.functions.Cast(models.OuterRef("pk"), output_field=models.CharField())
    )).order_by("id").values("key")[:1]
    Order.objects.filter(charge_key__isnull=True).update(charge_key=models.Subquery(placed))
    for order in Order.objects.filter(charge_key__isnull=True).only("pk").iterator():
        Order.objects.filter(pk=order.pk).update(charge_key=uuid.uuid4())


class Migration(migrations.Migration):
    # The data step updates rows whose foreign keys PostgreSQL checks at commit; the
    # ALTER after it may not share a transaction with those pending checks.
    atomic = False

    dependencies = [
        ("events", "0006_outbox_dispatcher"),
        ("orders", "0004_dashboard_indexes"),
    ]

    operations = [
        migrations.AddField(model_name="order", name="charge_key", field=models.UUIDField(editable=False, null=True)),
        migrations.RunPython(keys_from_placed_events, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="order",
            name="charge_key",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                help_text="The idempotency key of the order's one charge at the payment gateway. Its order.placed "
                "event is recorded under the same key, so the charge handler has it in hand.",
            ),
        ),
    ]
