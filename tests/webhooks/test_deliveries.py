"""Deliveries end to end inside the test process, on the real broker and database:
an order's events fan out to the endpoints that want them, each delivery is signed,
retried on its own schedule and logged; the receiver verifies every signature with the
``standardwebhooks`` library (tests/webhooks/receiver.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Event, HandlerRun
from events.public import envelope_json
from tests.factories import ProductFactory, UserFactory, place_order
from tests.testkit.handlers import dispatch
from webhooks import selectors, services, tasks
from webhooks.models import Attempt, Delivery, Endpoint

from .receiver import Answer

pytestmark = pytest.mark.django_db(transaction=True)


def register(staff_client, url: str, event_types=("order.placed",)) -> dict:
    response = staff_client.post(
        reverse("v1:webhook-list"), {"url": url, "event_types": list(event_types)}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def an_order():
    return place_order(UserFactory().customer, {ProductFactory(): 1})


def event_of(order, type_name: str) -> Event:
    return Event.objects.get(stream=f"order:{order.pk}", type=type_name)


def test_an_order_placed_reaches_the_receiver_signed_as_the_specification_says(staff_client, receivers, run_handlers):
    receiver = receivers()
    endpoint = register(staff_client, receiver.url)
    receiver.secrets = [endpoint["secret"]]
    assert endpoint["secret"].startswith("whsec_")

    order = an_order()
    run_handlers()

    placed = event_of(order, "order.placed")
    [got] = receiver.all()
    assert got.verified == (True,), "standardwebhooks verifies the signature"
    assert got.webhook_id == str(placed.key)
    assert got.body == envelope_json(placed)
    assert got.envelope["type"] == "order.placed"
    assert got.envelope["data"]["order_id"] == order.pk
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-signature"].startswith("v1,")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    [attempt] = Attempt.objects.all()
    assert (attempt.outcome, attempt.status_code, attempt.response_excerpt) == ("delivered", 200, "ok")


def test_only_the_types_an_endpoint_wants_are_sent_to_it(staff_client, receivers, run_handlers):
    paid_only = receivers()
    everything = receivers()
    register(staff_client, paid_only.url, ["order.paid"])
    register(staff_client, everything.url, ["order.placed", "order.paid", "payment.captured"])

    an_order()
    run_handlers()

    assert [r.envelope["type"] for r in paid_only.all()] == ["order.paid"]
    assert sorted(r.envelope["type"] for r in everything.all()) == ["order.paid", "order.placed", "payment.captured"]


def test_with_no_endpoint_no_handler_run_is_even_written(run_handlers):
    an_order()
    run_handlers()

    assert not HandlerRun.objects.filter(handler="webhooks.fan_out").exists()
    assert not Delivery.objects.exists()


def test_during_a_secret_rotation_both_the_old_and_the_new_secret_verify(staff_client, receivers, run_handlers):
    receiver = receivers()
    endpoint = register(staff_client, receiver.url)
    old = endpoint["secret"]
    rotate = reverse("v1:webhook-rotate-secret", kwargs={"webhook_id": endpoint["id"]})
    response = staff_client.post(rotate, {}, format="json")
    assert response.status_code == 200, response.content
    new = response.json()["secret"]
    assert new != old
    assert new.startswith("whsec_")
    receiver.secrets = [old, new]

    an_order()
    run_handlers()

    [got] = receiver.all()
    assert got.verified == (True, True), "each secret alone verifies the delivery"
    assert len(got.headers["webhook-signature"].split(" ")) == 2


def test_after_the_overlap_only_the_new_secret_signs(staff_client, receivers, run_handlers):
    receiver = receivers()
    endpoint = register(staff_client, receiver.url)
    old = endpoint["secret"]
    rotate = reverse("v1:webhook-rotate-secret", kwargs={"webhook_id": endpoint["id"]})
    new = staff_client.post(rotate, {}, format="json").json()["secret"]
    Endpoint.objects.filter(pk=endpoint["id"]).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    receiver.secrets = [old, new]

    an_order()
    run_handlers()

    [got] = receiver.all()
    assert got.verified == (False, True)


def test_a_receiver_answering_500_then_200_gets_it_again_and_it_is_delivered_once(
    staff_client, receivers, run_handlers, fast_retries
):
    receiver = receivers(answers=[Answer(500, body=b"boom"), Answer(200)])
    endpoint = register(staff_client, receiver.url)
    receiver.secrets = [endpoint["secret"]]

    an_order()
    run_handlers()

    assert len(receiver.all()) == 2
    assert len(set(receiver.ids())) == 1, "the same webhook-id on the retry"
    assert all(r.verified == (True,) for r in receiver.all())
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    log = list(Attempt.objects.order_by("number").values_list("number", "status_code", "outcome", "response_excerpt"))
    assert log == [(1, 500, "rejected", "boom"), (2, 200, "delivered", "ok")]
    # The API's view of the same log: newest first.
    answer = staff_client.get(reverse("v1:webhook-deliveries", kwargs={"webhook_id": endpoint["id"]})).json()
    assert [(a["attempt"], a["status_code"]) for a in answer["results"]] == [(2, 200), (1, 500)]
    assert answer["results"][0]["event_id"] == receiver.ids()[0]

    run_handlers()
    services.sweep()
    assert len(receiver.all()) == 2, "a delivered delivery is never sent again"


def test_a_failing_receiver_is_retried_on_the_schedule_then_given_up(settings, staff_client, receivers, run_handlers):
    settings.WEBHOOKS_RETRY_SCHEDULE = [0.0, 0.0, 0.0]
    receiver = receivers(answers=[Answer(503)])
    register(staff_client, receiver.url)

    an_order()
    run_handlers()

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert len(receiver.all()) == 3


def test_the_schedule_puts_the_next_attempt_on_the_row_and_the_sweep_sends_it_when_due(
    staff_client, receivers, run_handlers
):
    receiver = receivers(answers=[Answer(500), Answer(500), Answer(200)])
    register(staff_client, receiver.url)
    an_order()
    run_handlers()  # attempt 1 fails; attempt 2 is due in about 5 s: its countdown message comes too early

    delivery = Delivery.objects.get()
    first = Attempt.objects.get()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    wait = (delivery.next_attempt_at - first.created_at).total_seconds()
    assert 4.4 <= wait <= 5.6, "5 s with jitter"
    assert len(receiver.all()) == 1

    # Attempt 2 fails; attempt 3 is 5 minutes out: on the row only, for the sweep.
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now(), queued_until=None)
    assert services.sweep() == 1
    run_handlers()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.queued_until is None
    assert 270 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 330
    assert services.sweep() == 0, "not due yet"

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert services.sweep() == 1
    assert services.sweep() == 0, "a message is on its way: not sent twice"
    run_handlers()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(receiver.all()) == 3


def test_429_with_retry_after_puts_the_next_attempt_off_as_asked(staff_client, receivers, run_handlers, fast_retries):
    receiver = receivers(answers=[Answer(429, headers={"Retry-After": "120"}), Answer(200)])
    register(staff_client, receiver.url)

    an_order()
    run_handlers()

    delivery = Delivery.objects.get()
    attempt = Attempt.objects.get()
    assert (attempt.status_code, delivery.status) == (429, "pending")
    assert 119 <= (delivery.next_attempt_at - attempt.created_at).total_seconds() <= 121
    assert services.sweep() == 0
    tasks.deliver.apply(args=[delivery.pk])  # a stray copy of its message: too early, nothing sent
    assert len(receiver.all()) == 1

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    services.sweep()
    run_handlers()
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert len(receiver.all()) == 2


def test_a_retry_after_shorter_than_the_schedule_does_not_bring_the_next_attempt_forward(
    staff_client, receivers, run_handlers, settings
):
    settings.WEBHOOKS_RETRY_SCHEDULE = [0.0, 300.0, 1800.0]
    receiver = receivers(answers=[Answer(503, headers={"Retry-After": "1"})])
    register(staff_client, receiver.url)

    an_order()
    run_handlers()

    delivery = Delivery.objects.get()
    attempt = Attempt.objects.get()
    assert (attempt.status_code, delivery.status) == (503, "pending")
    # the schedule's 5 minutes (with its jitter), not the receiver's one second
    assert 270 <= (delivery.next_attempt_at - attempt.created_at).total_seconds() <= 330


def test_410_disables_the_endpoint_and_nothing_more_is_sent(staff_client, receivers, run_handlers, fast_retries):
    receiver = receivers(answers=[Answer(410)])
    endpoint = register(staff_client, receiver.url)

    an_order()
    run_handlers()

    assert len(receiver.all()) == 1, "the first answer was 410: nothing after it"
    detail = staff_client.get(reverse("v1:webhook-detail", kwargs={"webhook_id": endpoint["id"]})).json()
    assert detail["enabled"] is False
    assert "410" in detail["disabled_reason"]
    statuses = set(Delivery.objects.values_list("status", flat=True))
    assert statuses <= {"failed", "cancelled"}
    assert Delivery.objects.filter(status="failed", last_status_code=410).count() == 1

    an_order()
    run_handlers()
    services.sweep()
    run_handlers()
    assert len(receiver.all()) == 1


def test_the_same_event_fanned_out_twice_makes_one_delivery_per_endpoint_sent_once(
    staff_client, receivers, run_handlers
):
    first, second = receivers(), receivers()
    register(staff_client, first.url)
    register(staff_client, second.url)
    order = an_order()
    run_handlers()
    placed = event_of(order, "order.placed")

    # The handler's task delivered again (done: skipped), the service itself run again
    # (the unique constraint), the event dispatched again, a delivery's message twice.
    tasks.fan_out.apply(args=[placed.pk])
    services.fan_out(placed)
    Event.objects.filter(pk=placed.pk).update(dispatched_at=None)
    dispatch()
    for delivery in Delivery.objects.all():
        tasks.deliver.apply(args=[delivery.pk])
        tasks.deliver.apply(args=[delivery.pk])
    run_handlers()

    assert Delivery.objects.count() == 2
    assert first.ids() == [str(placed.key)]
    assert second.ids() == [str(placed.key)]
    assert Attempt.objects.count() == 2


def test_an_attempt_in_progress_is_not_attempted_twice(staff_client, receivers, run_handlers):
    receiver = receivers()
    register(staff_client, receiver.url)
    order = an_order()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "_send", lambda *args, **kwargs: True)  # keep the first attempt to ourselves
        run_handlers()
    delivery = Delivery.objects.get(event=event_of(order, "order.placed"))
    # Another worker holds the lease (an attempt in progress; its claim took the message):
    Delivery.objects.filter(pk=delivery.pk).update(
        lease_until=timezone.now() + timedelta(seconds=60), queued_until=None
    )

    assert services.attempt(delivery.pk) is None
    assert services.sweep() == 0
    assert receiver.all() == []

    # Its worker died: once the lease has run out, the sweep sends it again.
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert services.sweep() == 1
    run_handlers()
    assert len(receiver.all()) == 1


def test_staff_resend_sends_a_delivered_delivery_again_with_the_same_webhook_id(staff_client, receivers, run_handlers):
    receiver = receivers()
    register(staff_client, receiver.url)
    an_order()
    run_handlers()
    delivery = Delivery.objects.get()

    services.resend(delivery=delivery)
    run_handlers()

    assert len(receiver.all()) == 2
    assert len(set(receiver.ids())) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_disabling_an_endpoint_cancels_its_pending_deliveries(staff_client, receivers, run_handlers, closed_port):
    endpoint = register(staff_client, f"http://127.0.0.1:{closed_port}/hooks")
    an_order()
    run_handlers()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert Attempt.objects.get().outcome == "error"

    response = staff_client.patch(
        reverse("v1:webhook-detail", kwargs={"webhook_id": endpoint["id"]}), {"enabled": False}, format="json"
    )
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "cancelled"
    assert services.sweep() == 0
    assert not selectors.someone_wants(delivery.event), "the dispatcher no longer runs the fan-out for it"


def test_retention_deletes_an_old_event_with_its_deliveries_and_counts_only_the_events(
    staff_client, receivers, run_handlers
):
    from events.services.retention import prune

    register(staff_client, receivers().url)
    an_order()
    run_handlers()
    assert Delivery.objects.count() == 1
    events = Event.objects.count()
    long_ago = timezone.now() - timedelta(days=400)
    Event.objects.update(occurred_at=long_ago)
    HandlerRun.objects.update(finished_at=long_ago)

    report = prune()

    assert report.events == events
    assert not Delivery.objects.exists()
    assert not Attempt.objects.exists()


def test_an_endpoint_that_is_down_holds_up_no_other(staff_client, receivers, run_handlers, closed_port):
    up = receivers()
    register(staff_client, f"http://127.0.0.1:{closed_port}/hooks")
    register(staff_client, up.url)

    an_order()
    run_handlers()

    assert len(up.all()) == 1
    statuses = dict(Delivery.objects.values_list("endpoint__url", "status"))
    assert statuses == {f"http://127.0.0.1:{closed_port}/hooks": "pending", up.url: "delivered"}
    [refused] = Attempt.objects.filter(outcome="error")
    assert "Connection refused" in refused.error or "NewConnectionError" in refused.error


def test_only_the_first_kilobyte_of_an_answer_is_read_and_kept(staff_client, receivers, run_handlers):
    receiver = receivers(answers=[Answer(200, body=b"x" * 100_000)])
    register(staff_client, receiver.url)

    an_order()
    run_handlers()

    attempt = Attempt.objects.get()
    assert attempt.outcome == "delivered"
    assert attempt.response_excerpt == "x" * 1024
