"""Every payment carries its charge key: one made before payments kept it takes the
order's (which is its order.placed event's key: orders 0005), so the payments app
never reads it from an event again."""

from django.db import migrations, models


def keys_from_orders(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    Order = apps.get_model("orders", "Order")
    for payment in Payment.objects.filter(charge_key="").only("pk", "order_id").iterator():
        key = Order.objects.values_list("charge_key", flat=True).get(pk=payment.order_id)
        Payment.objects.filter(pk=payment.pk).update(charge_key=str(key))


class Migration(migrations.Migration):
    # The data step updates rows whose foreign keys PostgreSQL checks at commit; the
    # ALTER after it may not share a transaction with those pending checks.
    atomic = False

    dependencies = [
        ("orders", "0005_order_charge_key"),
        ("payments", "0002_payment_charge_key"),
    ]

    operations = [
        migrations.RunPython(keys_from_orders, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="payment",
            name="charge_key",
            field=models.CharField(
                help_text="Idempotency key of the order's one charge at the gateway (the order's charge key).",
                max_length=100,
            ),
        ),
    ]
