"""The invariant reports, moved from orders (orders 0008 renamed their table): the
model joins audit's state, staff permissions follow its content type, and the beat
entry of the old task name goes (its task is ``audit.check_invariants`` now)."""

from django.db import migrations, models


def follow_the_move(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="orders", model="invariantreport").update(app_label="audit")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task="orders.check_invariants").delete()


def back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="audit", model="invariantreport").update(app_label="orders")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "__latest__"),
        ("orders", "0008_invariant_report_moves_to_audit"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="InvariantReport",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("ran_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "since",
                            models.DateTimeField(
                                blank=True, help_text="Orders, runs and events since then (blank: all).", null=True
                            ),
                        ),
                        ("ok", models.BooleanField(help_text="Every invariant held.")),
                        (
                            "findings",
                            models.JSONField(default=list, help_text="One {invariant, subject, detail} per offender."),
                        ),
                    ],
                    options={"ordering": ["-ran_at", "-id"]},
                )
            ]
        ),
        migrations.RunPython(follow_the_move, back),
    ]
