"""The invariant checker: a shop run through the real flow passes, and each invariant,
broken on purpose with a direct database update, is reported with its offender."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from audit.invariants import INVARIANTS, Finding, check_invariants
from audit.models import InvariantReport
from audit.tasks import check_invariants as check_invariants_task
from catalog.models import Product, StockRelease
from customers.models import PointsEntry
from events.models import Event, HandlerRun
from notifications.models import EmailRecord
from orders import services as order_services
from orders.models import Order
from payments.models import Payment
from tests.factories import ProductFactory, UserFactory, place_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(run_handlers):
    """Every kind of settled order, each handler run done: one paid, one declined, one
    paid then cancelled by its customer (refunded, points taken back)."""
    customer = UserFactory().customer
    mug = ProductFactory(sku="MUG-01", price="12.90", stock=10)
    paid = place_order(customer, {mug: 2})
    declined = place_order(customer, {mug: 1}, payment_token="tok_declined")
    refunded = place_order(customer, {mug: 3})
    run_handlers()
    order_services.cancel_own_order(customer=customer, order_id=refunded.pk)
    run_handlers()
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {paid.pk: "paid", declined.pk: "cancelled", refunded.pk: "cancelled"}
    return {"mug": mug, "paid": paid, "declined": declined, "refunded": refunded}


def invariants_broken(findings: list[Finding]) -> dict[str, list[str]]:
    broken: dict[str, list[str]] = {}
    for finding in findings:
        broken.setdefault(finding.invariant, []).append(finding.subject)
    return broken


def test_a_shop_run_through_the_real_flow_passes_every_invariant(shop, capsys):
    assert check_invariants() == []

    call_command("check_invariants")  # exits 0: no SystemExit

    assert capsys.readouterr().out.splitlines() == [f"OK: all {len(INVARIANTS)} invariants hold, over everything"]


def _take_a_unit_off_the_shelf(shop):
    Product.objects.filter(pk=shop["mug"].pk).update(stock=F("stock") - 1)


def _refund_behind_the_orders_back(shop):
    Payment.objects.filter(order=shop["paid"]).update(status="refunded")


def _lose_the_confirmation_email(shop):
    EmailRecord.objects.filter(order=shop["paid"]).delete()


def _award_points_twice(shop):
    PointsEntry.objects.filter(order=shop["paid"]).update(amount=F("amount") * 2)


def _cancel_without_giving_stock_back(shop):
    StockRelease.objects.filter(reference=f"order:{shop['declined'].pk}").delete()
    Product.objects.filter(pk=shop["mug"].pk).update(stock=F("stock") - 1)


def _keep_the_points_of_a_cancelled_order(shop):
    PointsEntry.objects.filter(order=shop["refunded"], reason="order_cancelled").delete()


def _never_refund(shop):
    Payment.objects.filter(order=shop["refunded"]).update(status="captured")


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (_take_a_unit_off_the_shelf, {"stock_conservation": ["product MUG-01"]}),
        (_refund_behind_the_orders_back, {"paid_order_payment": ["paid"]}),
        (_lose_the_confirmation_email, {"paid_order_confirmation": ["paid"]}),
        (_award_points_twice, {"paid_order_points": ["paid"]}),
        # The order's own record and the product's count both miss the units.
        (
            _cancel_without_giving_stock_back,
            {"cancelled_order_stock": ["declined"], "stock_conservation": ["product MUG-01"]},
        ),
        (_keep_the_points_of_a_cancelled_order, {"cancelled_order_points": ["refunded"]}),
        (_never_refund, {"cancelled_order_payment": ["refunded"]}),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else "",
)
def test_each_broken_order_invariant_is_reported_with_its_offender(shop, break_it, expected):
    break_it(shop)

    broken = invariants_broken(check_invariants())

    def subject(name):
        return name if name.startswith("product") else f"order #{shop[name].pk}"

    assert broken == {invariant: [subject(name) for name in names] for invariant, names in expected.items()}


def test_stock_conservation_says_how_many_units_are_unaccounted(shop):
    _take_a_unit_off_the_shelf(shop)

    [finding] = check_invariants()

    # 10 received; the declined (1) and refunded (3) orders gave theirs back, the paid
    # one took 2: 8 on hand, less the one taken off the shelf.
    assert finding.detail == (
        "received 10 != on hand 7 + reserved by pending orders 0 + sold to paid orders 2 (= 9; +1 unaccounted)"
    )


def test_a_run_left_open_past_its_deadline_is_reported(shop):
    run = HandlerRun.objects.get(handler="customers.award_points", event__stream=f"order:{shop['paid'].pk}")
    HandlerRun.objects.filter(pk=run.pk).update(status="pending", deadline=timezone.now() - timedelta(minutes=5))

    findings = check_invariants()

    assert invariants_broken(findings) == {
        "handler_run_overdue": [f"run #{run.pk} (customers.award_points on event #{run.event_id})"]
    }
    assert re.fullmatch(r"pending, 30\ds past its deadline after 1 attempts", findings[0].detail)


def test_an_event_left_undispatched_for_over_a_minute_is_reported(shop):
    event = Event.objects.get(type="order.paid", stream=f"order:{shop['paid'].pk}")
    Event.objects.filter(pk=event.pk).update(dispatched_at=None, occurred_at=timezone.now() - timedelta(minutes=2))

    findings = check_invariants()

    assert invariants_broken(findings) == {
        "event_undispatched": [f"event #{event.pk} (order.paid, order:{shop['paid'].pk})"]
    }


def test_handler_work_still_under_way_is_not_an_offence(run_handlers):
    """Paid, but its points and confirmation are not handled yet: not late, not missing."""
    customer = UserFactory().customer
    order = place_order(customer, {ProductFactory(stock=5): 1})
    run_handlers()
    paid_event = Event.objects.get(type="order.paid")
    HandlerRun.objects.filter(event=paid_event).update(status="pending", deadline=timezone.now() + timedelta(minutes=1))
    PointsEntry.objects.filter(order=order).delete()
    EmailRecord.objects.filter(order=order).delete()

    assert check_invariants() == []


def test_since_leaves_orders_unchanged_since_out_but_never_stock_or_stuck_work(shop):
    old = timezone.now() - timedelta(hours=3)
    event = Event.objects.get(type="order.paid", stream=f"order:{shop['paid'].pk}")
    Event.objects.filter(pk=event.pk).update(dispatched_at=None, occurred_at=old)
    Order.objects.filter(pk=shop["paid"].pk).update(created_at=old, updated_at=old)
    Payment.objects.filter(order=shop["paid"]).update(status="refunded")
    _take_a_unit_off_the_shelf(shop)

    recent = invariants_broken(check_invariants(since=timezone.now() - timedelta(hours=2)))
    everything = invariants_broken(check_invariants())

    assert set(recent) == {"stock_conservation", "event_undispatched"}
    assert set(everything) == {"stock_conservation", "event_undispatched", "paid_order_payment"}


def test_since_takes_in_an_old_order_that_changed_since(shop):
    old = timezone.now() - timedelta(days=3)
    Order.objects.filter(pk=shop["paid"].pk).update(created_at=old)  # placed long ago, paid just now
    Payment.objects.filter(order=shop["paid"]).update(status="refunded")

    recent = invariants_broken(check_invariants(since=timezone.now() - timedelta(hours=2)))

    assert set(recent) == {"paid_order_payment"}


def test_the_command_prints_each_offender_and_a_summary_and_exits_1(shop, capsys):
    _never_refund(shop)
    _take_a_unit_off_the_shelf(shop)

    with pytest.raises(SystemExit) as exited:
        call_command("check_invariants", "--since", "2h")

    assert exited.value.code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("stock_conservation: product MUG-01: received 10 != on hand")
    assert (
        lines[1]
        == f"cancelled_order_payment: order #{shop['refunded'].pk}: cancelled, but its payment is still captured"
    )
    assert lines[2].startswith(f"FAIL: 2 findings against 2 of {len(INVARIANTS)} invariants, since ")


def test_the_periodic_check_keeps_its_report_for_staff(shop):
    check_invariants_task()
    _never_refund(shop)
    check_invariants_task()

    clean, broken = InvariantReport.objects.order_by("id")
    assert (clean.ok, clean.findings) == (True, [])
    assert broken.ok is False
    assert broken.findings == [
        {
            "invariant": "cancelled_order_payment",
            "subject": f"order #{shop['refunded'].pk}",
            "detail": "cancelled, but its payment is still captured",
        }
    ]
    assert broken.since is not None
