"""Webhooks under faults, on the real stack.

* A receiver that is down for a while (connections refused) loses nothing and gets
  nothing twice: every delivery waits on its row, the sweep (in a real ``celery beat``)
  sends each retry when due, and once the receiver is back every event arrives, once by
  ``webhook-id``, signed (verified with the ``standardwebhooks`` library).
* Every message published twice (the fan-out's and each delivery's): one delivery per
  event, one request per event at the receiver, the copies turned away."""

import sys
import time
from collections import Counter

import pytest
import requests

from events.models import Event
from events.public import PUBLIC_EVENT_TYPES
from tests.factories import StaffUserFactory
from tests.webhooks.receiver import Receiver
from users.services import create_token
from webhooks.models import Attempt, Delivery
from webhooks.selectors import WANTED_TYPES_TTL

from .scenario import RECOVERY

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def register(stack, receiver: Receiver) -> None:
    """As staff over HTTP, for every public type; then waits out the dispatchers' cache."""
    token = create_token(StaffUserFactory()).key
    response = requests.post(
        f"{stack.base_url}/api/v1/webhooks",
        json={"url": receiver.url, "event_types": sorted(PUBLIC_EVENT_TYPES)},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    receiver.secrets = [response.json()["secret"]]
    time.sleep(WANTED_TYPES_TTL + 0.5)


def public_event_keys(order_ids: list[int]) -> set[str]:
    events = Event.objects.filter(stream__in=[f"order:{i}" for i in order_ids], type__in=PUBLIC_EVENT_TYPES)
    return {str(key) for key in events.values_list("key", flat=True)}


def start_beat(stack):
    env = {**stack.worker.env, "WEBHOOKS_SWEEP_INTERVAL": "1"}
    args = [
        sys.executable,
        *("-m", "celery", "-A", "project", "beat", "-l", "info"),
        "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
        "--pidfile=",
    ]
    beat = stack.start("beat", args, env, stack.worker.log_path.parent)
    stack.wait_for(lambda: "beat: Starting" in beat.log(), "celery beat to start")
    return beat


def test_a_receiver_down_for_a_while_gets_every_event_once_when_it_is_back(shop):
    stack = shop.stack
    # Retries only through the sweep: no countdown messages to carry them.
    stack.restart("worker", env={"WEBHOOKS_COUNTDOWN_MAX": "0"})
    beat = start_beat(stack)
    receiver = Receiver()  # its port is not listening yet: connections refused
    try:
        register(stack, receiver)
        stream = shop.stream(declined_every=3)
        stream.place(6)
        shop.quiesce(stream.accepted)
        expected = public_event_keys(stream.accepted)
        stack.wait_for(
            lambda: Delivery.objects.count() == len(expected) and all(d.attempts >= 2 for d in Delivery.objects.all()),
            "every delivery to fail at least twice while the receiver is down",
            timeout=RECOVERY,
        )
        failed_while_down = Attempt.objects.filter(outcome="error").count()
        assert Delivery.objects.filter(status="pending").count() == len(expected)

        receiver.start()
        stack.wait_for(
            lambda: Delivery.objects.filter(status="delivered").count() == len(expected),
            "every delivery delivered once the receiver is back",
            timeout=RECOVERY,
        )
        time.sleep(3)  # a few more sweeps: nothing is sent again
    finally:
        receiver.stop()
        beat.stop()
        stack.procs.remove(beat)

    per_id = Counter(receiver.ids())
    shop.say(
        f"webhooks: {len(expected)} events, {failed_while_down} attempts refused while down, "
        f"{len(receiver.all())} requests received, {len(per_id)} distinct webhook-ids"
    )
    assert set(per_id) == expected, "every public event of every order arrived"
    assert max(per_id.values()) == 1, f"none twice: {[i for i, n in per_id.items() if n > 1]}"
    assert all(r.verified == (True,) for r in receiver.all())
    assert Attempt.objects.filter(outcome="delivered").count() == len(expected)


def test_every_webhook_message_published_twice_is_sent_to_the_receiver_once(shop):
    stack = shop.stack
    # The relay publishes every fan-out twice, the worker every delivery's message twice.
    twice = {"ORDERFLOW_PUBLISH_COPIES": "2"}
    stack.restart("relay", env=twice)
    stack.restart("worker", env=twice)
    receiver = Receiver().start()
    try:
        register(stack, receiver)
        stream = shop.stream(declined_every=4)
        stream.place(8)
        shop.quiesce(stream.accepted)
        expected = public_event_keys(stream.accepted)
        stack.wait_for(
            lambda: Delivery.objects.filter(status="delivered").count() == len(expected),
            "every delivery delivered",
            timeout=RECOVERY,
        )
        time.sleep(2)  # the second copies, if any were still on their way
    finally:
        receiver.stop()

    per_id = Counter(receiver.ids())
    shop.say(f"webhooks, every message twice: {len(expected)} events, {len(receiver.all())} requests received")
    assert set(per_id) == expected
    assert max(per_id.values()) == 1
    assert Delivery.objects.count() == len(expected), "one delivery per event and endpoint"
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}, "the copies were turned away"
    assert "not due, not pending or being attempted; skipped" in stack.worker.log()
