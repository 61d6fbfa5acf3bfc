"""The dispatcher (the relay process) SIGKILLed in the middle of its batches: after
writing a batch's handler runs and claiming its events but before publishing any task,
and after publishing them but before marking the events dispatched. Started again, it
takes the events over once their claim runs out; every order completes once."""

import time

import pytest

from events.models import Event

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

CRASHES = "events.before_publish:every=3,events.before_mark:every=4"


def test_orders_outlive_a_dispatcher_killed_before_publishing_and_before_marking(shop):
    stack = shop.stack
    stack.restart("relay", env={"ORDERFLOW_CRASH_POINTS": CRASHES})
    stream = shop.stream()
    for _ in range(12):
        stream.place(3)
        # What a supervisor (systemd, Kubernetes) does: start the relay again when it dies.
        deadline = time.monotonic() + 2
        while stack.relay.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not stack.relay.alive():
            stack.restart("relay", kill=True)
    kills = stack.relay.all_logs().count("orderflow-fault: crash point events.")
    stack.restart("relay", kill=True, env={"ORDERFLOW_CRASH_POINTS": None})

    assert kills >= 3
    assert stream.dropped == 0  # the web process never noticed
    order_ids = stream.committed()
    assert len(order_ids) == len(stream.accepted) == 36
    tally = shop.verify(order_ids, relay_kills=kills)
    assert tally.paid >= 24
    # Events a dead relay had claimed were dispatched by the next one.
    taken_over = Event.objects.filter(stream__in=[f"order:{i}" for i in order_ids], dispatch_attempts__gte=2)
    assert taken_over.exists()
