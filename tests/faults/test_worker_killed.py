"""Workers SIGKILLed mid-stream — between the gateway's charge and the database write,
and the whole worker at random moments — and restarted: every order ends paid or
cancelled exactly once, nobody is charged twice, one email and one points entry per
paid order."""

import pytest

from events.models import HandlerRun

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_worker_killed_mid_stream_and_after_charging_charges_and_confirms_each_order_once(shop):
    stack = shop.stack
    # A pool process dies at every second charge, with the money taken and nothing written.
    stack.restart("worker", kill=True, env={"ORDERFLOW_CRASH_POINTS": "payments.after_charge:every=2"})
    stream = shop.stream()
    whole_worker_kills = 0
    done = HandlerRun.objects.filter(status=HandlerRun.Status.DONE)
    for _ in range(3):
        before = done.count()
        stream.place(10)
        # Kill the whole worker (master and pool) once it is busy with the batch.
        stack.wait_for(lambda before=before: done.count() >= before + 3, "the worker to get going on the batch")
        stack.restart("worker", kill=True)
        whole_worker_kills += 1

    order_ids = stream.committed()
    # A whole-worker kill may land between the SMTP server taking a mail and the commit:
    # that mail goes out again, with the same Message-ID (at-least-once email).
    tally = shop.verify(
        order_ids,
        email_resends_allowed=whole_worker_kills,
        after_charge_kills=shop.crash_kills("worker"),
        worker_kills=whole_worker_kills,
    )
    assert shop.crash_kills("worker") >= 1
    assert tally.orders == 30
    assert tally.charges == tally.paid
    assert tally.refunds == 0
    assert tally.double_charges == tally.double_emails == tally.double_points == 0
