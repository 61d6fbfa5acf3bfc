"""The invariant checker's reports move to the audit app (``audit.InvariantReport``):
the table is renamed here and the model leaves orders' state; audit 0001 takes it up."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orders", "0007_alter_order_cancel_reason")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterModelTable(name="invariantreport", table="audit_invariantreport")],
            state_operations=[migrations.DeleteModel(name="InvariantReport")],
        )
    ]
