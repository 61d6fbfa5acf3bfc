"""The handler that cancels an order whose payment was declined was named
``orders.cancel_unpaid``, beside the sweeper ``orders.cancel_unpaid_orders`` that
cancels orders nobody paid in time: it is ``orders.cancel_declined`` now. Its runs
and the tallies retention kept for it follow the name, so a run still open is sent
again under the new name and its figures go on adding up."""

from django.db import migrations

OLD, NEW = "orders.cancel_unpaid", "orders.cancel_declined"


def rename(old: str, new: str):
    def forwards(apps, schema_editor):
        apps.get_model("events", "HandlerRun").objects.filter(handler=old).update(handler=new)
        apps.get_model("events", "PrunedTally").objects.filter(label=old).update(label=new)

    return forwards


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_outbox_dispatcher"),
        ("orders", "0005_order_charge_key"),
    ]

    operations = [migrations.RunPython(rename(OLD, NEW), rename(NEW, OLD))]
