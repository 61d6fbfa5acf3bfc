from decimal import Decimal

import pytest

from customers import selectors, services
from customers.models import Customer, PointsEntry
from tests.factories import ProductFactory, UserFactory, place_order


@pytest.mark.parametrize(
    ("total", "points"),
    [("25.80", 25), ("0.99", 0), ("0.00", 0), ("100.00", 100), ("99.99", 99), ("1234.50", 1234)],
)
def test_one_point_per_whole_currency_unit(total, points):
    assert services.points_for(Decimal(total)) == points


def test_the_points_rate_is_configurable(settings):
    settings.LOYALTY_POINTS_PER_UNIT = 3

    assert services.points_for(Decimal("10.50")) == 30


@pytest.fixture
def paid_order(db, mug):
    shopper = UserFactory()
    return place_order(shopper.customer, {mug: 2})  # 25.80


@pytest.mark.django_db
def test_a_paid_order_earns_its_points_once(paid_order):
    customer = paid_order.customer

    first = services.award_points_for_paid_order(customer_id=customer.pk, order_id=paid_order.pk, total="25.80")
    again = services.award_points_for_paid_order(customer_id=customer.pk, order_id=paid_order.pk, total="25.80")

    assert again == first
    assert list(PointsEntry.objects.values_list("customer", "amount", "reason", "order")) == [
        (customer.pk, 25, "order_paid", paid_order.pk)
    ]
    assert selectors.points_balance(customer) == 25


@pytest.mark.django_db
def test_an_order_worth_less_than_one_unit_earns_no_entry(paid_order):
    entry = services.award_points_for_paid_order(
        customer_id=paid_order.customer_id, order_id=paid_order.pk, total="0.50"
    )

    assert entry is None
    assert not PointsEntry.objects.exists()


@pytest.mark.django_db
def test_cancelling_a_paid_order_takes_back_exactly_what_it_earned_once(paid_order):
    customer = paid_order.customer
    services.award_points_for_paid_order(customer_id=customer.pk, order_id=paid_order.pk, total="25.80")

    first = services.revoke_points_for_cancelled_order(customer_id=customer.pk, order_id=paid_order.pk, was_paid=True)
    again = services.revoke_points_for_cancelled_order(customer_id=customer.pk, order_id=paid_order.pk, was_paid=True)

    assert again == first
    assert (first.amount, first.reason, first.customer_id) == (-25, "order_cancelled", customer.pk)
    assert PointsEntry.objects.count() == 2
    assert selectors.points_balance(customer) == 0


@pytest.mark.django_db
def test_cancelling_an_order_that_was_never_paid_leaves_no_trace(paid_order):
    entry = services.revoke_points_for_cancelled_order(
        customer_id=paid_order.customer_id, order_id=paid_order.pk, was_paid=False
    )

    assert entry is None
    assert not PointsEntry.objects.exists()


@pytest.mark.django_db
def test_an_award_handled_after_the_cancellation_is_refused(paid_order):
    """order.paid and order.cancelled are handled by separate tasks, in either order."""
    customer = paid_order.customer

    marker = services.revoke_points_for_cancelled_order(customer_id=customer.pk, order_id=paid_order.pk, was_paid=True)
    late = services.award_points_for_paid_order(customer_id=customer.pk, order_id=paid_order.pk, total="25.80")

    assert (marker.amount, marker.reason) == (0, "order_cancelled")
    assert late is None
    assert list(PointsEntry.objects.values_list("reason", "amount")) == [("order_cancelled", 0)]
    assert selectors.points_balance(customer) == 0


@pytest.mark.django_db
def test_a_user_gets_one_customer_profile_however_often_it_is_asked_for():
    user = UserFactory()

    assert services.get_or_create_customer(user) == user.customer
    assert services.get_or_create_customer(user) == user.customer
    assert Customer.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_the_contact_for_emails_prefers_the_full_name():
    user = UserFactory(username="alice", first_name="Alice", last_name="Liddell")
    plain = UserFactory(username="bob")

    assert selectors.contact(user.customer.pk).name == "Alice Liddell"
    assert selectors.contact(plain.customer.pk).name == "bob"
    assert selectors.contact(plain.customer.pk).email == "bob@example.com"


@pytest.mark.django_db
def test_the_largest_order_total_earns_its_points_in_the_ledger():
    gold = ProductFactory(sku="GOLD-01", price=Decimal("99999999.99"), stock=100)
    order = place_order(UserFactory().customer, {gold: 100})  # 9,999,999,999.00: beyond 32 bits

    entry = services.award_points_for_paid_order(customer_id=order.customer_id, order_id=order.pk, total=order.total)

    assert PointsEntry.objects.get(pk=entry.pk).amount == 9_999_999_999
