from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog import services as catalog_services
from events.models import Event, HandlerRun
from tests.factories import UserFactory, place_order
from tests.testkit.admin import (
    admin_action,
    break_email,
    build_shop,
    mend_email,
    messages_of,
    rows_of,
)
from tests.testkit.handlers import dispatch

CONFIRMATION = "notifications.order_confirmed"


@pytest.fixture
def mug(db):
    return catalog_services.create_product(sku="MUG-01", name="Mug", price=Decimal("12.90"), currency="EUR", stock=10)


@pytest.mark.django_db(transaction=True)
def test_retry_failed_runs_action_reopens_the_failed_run_and_sends_it_again(
    admin_client, run_handlers, settings, mailoutbox
):
    break_email(settings)
    build_shop(run_handlers)
    failed = HandlerRun.objects.get(handler=CONFIRMATION)
    assert (failed.status, failed.attempts, failed.enqueued) == ("failed", 8, 1)
    done = HandlerRun.objects.filter(status="done").first()

    response = admin_action(admin_client, "events.handlerrun", "retry_failed_runs", [failed, done])

    assert messages_of(response) == ["Retried 1 failed run(s); skipped 1 not failed."]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.enqueued, failed.finished_at) == ("pending", 0, 2, None)
    assert HandlerRun.objects.get(pk=done.pk).enqueued == 1
    # It really went back to the broker: with mail working again, a worker finishes it.
    mend_email(settings)
    assert CONFIRMATION in run_handlers()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("done", 1)
    assert [m.subject for m in mailoutbox] == [f"Order #{failed.event.payload['order_id']} confirmed"]


@pytest.mark.django_db(transaction=True)
def test_resend_open_runs_action_sends_an_open_run_again_and_it_is_handled_once(admin_client, run_handlers, mug):
    order = place_order(UserFactory(username="alice").customer, {"MUG-01": 1})
    dispatch()
    run = HandlerRun.objects.get(event__stream=f"order:{order.pk}", handler="payments.charge_order")
    assert (run.status, run.enqueued) == ("pending", 1)

    response = admin_action(admin_client, "events.handlerrun", "resend_open_runs", [run])

    assert messages_of(response) == ["Re-sent 1 open run(s); skipped 0 done or failed."]
    run.refresh_from_db()
    assert (run.status, run.enqueued) == ("pending", 2)
    ran = run_handlers()
    assert ran.count("payments.charge_order") == 2  # both messages were delivered...
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("done", 1)  # ...and the charge applied once
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.django_db
def test_dispatch_now_action_dispatches_an_event_left_undispatched(admin_client, mug, broker):
    # No dispatcher runs here: the event is left behind as when the relay process is down.
    order = place_order(UserFactory(username="alice").customer, {"MUG-01": 1})
    event = Event.objects.get(stream=f"order:{order.pk}")
    assert event.dispatched_at is None

    response = admin_action(admin_client, "events.event", "dispatch_now", [event])

    assert messages_of(response) == ["Dispatched 1 event(s); 0 already dispatched."]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.dispatch_attempts == 1
    run = HandlerRun.objects.get(event=event)
    assert (run.handler, run.status, run.enqueued) == ("payments.charge_order", "pending", 1)

    again = admin_action(admin_client, "events.event", "dispatch_now", [event])

    assert messages_of(again) == ["Dispatched 0 event(s); 1 already dispatched."]
    assert HandlerRun.objects.get(event=event).enqueued == 1


@pytest.mark.django_db(transaction=True)
def test_handler_run_list_filters_by_status_handler_and_event_type(admin_client, run_handlers, settings):
    break_email(settings)
    build_shop(run_handlers)
    url = reverse("admin:events_handlerrun_changelist")

    def listed(**params) -> set[str]:
        response = admin_client.get(url, params)
        assert response.status_code == 200
        return {row["handler"] for row in rows_of(response)}

    assert listed(status__exact="failed") == {CONFIRMATION, "notifications.order_cancelled"}
    assert listed(handler="payments.charge_order") == {"payments.charge_order"}
    assert listed(event__type="order.paid") == {CONFIRMATION, "customers.award_points"}
    assert listed(event__type="order.paid", status__exact="done") == {"customers.award_points"}


@pytest.mark.django_db
def test_events_and_runs_cannot_be_added_changed_or_deleted_in_the_admin(admin_client, mug, broker):
    order = place_order(UserFactory(username="alice").customer, {"MUG-01": 1})
    dispatch()
    event = Event.objects.get(stream=f"order:{order.pk}")
    admin_action(admin_client, "events.event", "dispatch_now", [event])
    run = HandlerRun.objects.get(event=event)

    for model, obj in (("event", event), ("handlerrun", run)):
        assert admin_client.get(reverse(f"admin:events_{model}_add")).status_code == 403
        assert admin_client.post(reverse(f"admin:events_{model}_change", args=[obj.pk]), {}).status_code == 403
        delete = reverse(f"admin:events_{model}_delete", args=[obj.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert HandlerRun.objects.get(pk=run.pk).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_the_overdue_filter_lists_open_runs_past_their_deadline_only(admin_client, mug, broker):
    place_order(UserFactory().customer, {mug: 1})
    dispatch()
    late = HandlerRun.objects.get(handler="payments.charge_order")
    HandlerRun.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(minutes=5))
    HandlerRun.objects.create(
        event=late.event, handler="tests.done_late", status="done", deadline=timezone.now() - timedelta(minutes=5)
    )

    response = admin_client.get(reverse("admin:events_handlerrun_changelist"), {"overdue": "yes"})

    assert [row["handler"] for row in rows_of(response)] == ["payments.charge_order"]


@pytest.mark.django_db
def test_an_events_private_fields_are_masked_on_its_admin_page(admin_client, mug):
    order = place_order(UserFactory().customer, {mug: 1}, payment_token="tok_secret_4242")
    placed = Event.objects.get(stream=f"order:{order.pk}", type="order.placed")

    page = admin_client.get(reverse("admin:events_event_change", args=[placed.pk])).content.decode()

    assert "tok_secret_4242" not in page
    assert "payment_token" in page
    assert f"&quot;order_id&quot;: {order.pk}" in page
