"""The invariant reports moved from orders to audit: kept, with their permissions, and
the beat entry of the old task name gone."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # as the other tests expect it


def migrate(targets):
    MigrationExecutor(connection).migrate(targets)
    executor = MigrationExecutor(connection)
    return executor.loader.project_state(list(executor.loader.applied_migrations)).apps


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_latest")
def test_reports_their_permissions_follow_to_audit_and_the_old_beat_entry_goes():
    old = migrate([("orders", "0007_alter_order_cancel_reason")])
    report = old.get_model("orders", "InvariantReport").objects.create(ok=False, findings=[{"invariant": "x"}])
    content_type, _ = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="orders", model="invariantreport"
    )
    schedule = old.get_model("django_celery_beat", "IntervalSchedule").objects.create(every=300, period="seconds")
    beat = old.get_model("django_celery_beat", "PeriodicTask")
    beat.objects.create(name="orders.check_invariants", task="orders.check_invariants", interval=schedule)
    beat.objects.create(name="events.relay", task="events.relay", interval=schedule)

    new = migrate([("audit", "0001_initial")])

    moved = new.get_model("audit", "InvariantReport").objects.get()
    assert (moved.pk, moved.ok, moved.findings) == (report.pk, False, [{"invariant": "x"}])
    assert new.get_model("contenttypes", "ContentType").objects.get(pk=content_type.pk).app_label == "audit"
    assert list(new.get_model("django_celery_beat", "PeriodicTask").objects.values_list("task", flat=True)) == [
        "events.relay"
    ]
