from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from catalog import selectors, services
from catalog.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def stock_of(*products: Product) -> list[int]:
    return [Product.objects.get(pk=p.pk).stock for p in products]


def test_reserve_stock_takes_units_off_and_prices_lines_from_the_catalog():
    mug = ProductFactory(sku="MUG-01", name="Mug", price=Decimal("12.90"), stock=10)
    tee = ProductFactory(sku="TEE-01", name="T-shirt", price=Decimal("19.90"), stock=3)

    reserved = services.reserve_stock({"TEE-01": 3, "MUG-01": 2})

    assert stock_of(mug, tee) == [8, 0]
    assert [(r.sku, r.name, r.unit_price, r.currency, r.quantity) for r in reserved] == [
        ("TEE-01", "T-shirt", Decimal("19.90"), "EUR", 3),
        ("MUG-01", "Mug", Decimal("12.90"), "EUR", 2),
    ]
    assert [r.product_id for r in reserved] == [tee.pk, mug.pk]


def test_reserving_an_unknown_sku_raises_and_reserves_nothing():
    mug = ProductFactory(sku="MUG-01", stock=10)

    with pytest.raises(services.UnknownProduct) as raised:
        services.reserve_stock({"MUG-01": 2, "NOPE-1": 1})

    assert raised.value.skus == ["NOPE-1"]
    assert raised.value.field == "items"
    assert stock_of(mug) == [10]


def test_reserving_more_than_on_hand_raises_and_reserves_no_line():
    mug = ProductFactory(sku="MUG-01", stock=10)
    cap = ProductFactory(sku="CAP-01", stock=1)

    with pytest.raises(services.OutOfStock) as raised:
        services.reserve_stock({"MUG-01": 2, "CAP-01": 2})

    assert raised.value.shortages == {"CAP-01": (2, 1)}
    assert "CAP-01 (asked 2, 1 left)" in str(raised.value)
    assert stock_of(mug, cap) == [10, 1]


def test_the_last_units_can_be_reserved_down_to_zero():
    cap = ProductFactory(stock=2)

    services.reserve_stock({cap.sku: 2})

    assert stock_of(cap) == [0]
    with pytest.raises(services.OutOfStock):
        services.reserve_stock({cap.sku: 1})
    assert stock_of(cap) == [0]


def test_an_inactive_product_cannot_be_reserved():
    hidden = ProductFactory(stock=5, is_active=False)

    with pytest.raises(services.UnknownProduct):
        services.reserve_stock({hidden.sku: 1})

    assert stock_of(hidden) == [5]


def test_release_stock_puts_units_back_on_hand_once_per_reference_and_records_it():
    mug = ProductFactory(stock=10)
    cap = ProductFactory(stock=0)

    services.release_stock([(mug.pk, 3), (cap.pk, 2)], reference="order:7")
    services.release_stock([(mug.pk, 3), (cap.pk, 2)], reference="order:7")

    assert stock_of(mug, cap) == [13, 2]
    assert selectors.releases_of(["order:7"]) == {"order:7": {mug.pk: 3, cap.pk: 2}}


def test_staff_stock_changes_count_as_received_and_written_off():
    product = services.create_product(sku="BAG-01", name="Tote bag", price=Decimal("9.50"), stock=4)
    services.reserve_stock({"BAG-01": 3})  # an order holds 3; 1 left on hand

    services.update_product(product=product, stock=10)  # 9 more arrive
    services.update_product(product=product, stock=8)  # 2 written off
    services.update_product(product=product, name="Tote")  # stock untouched

    product.refresh_from_db()
    assert (product.stock, product.received) == (8, 11)


def test_create_product_upper_cases_the_currency_and_validates():
    product = services.create_product(sku="BAG-01", name="Tote bag", price=Decimal("9.50"), currency="usd", stock=4)

    assert (product.currency, product.stock, product.is_active) == ("USD", 4, True)
    with pytest.raises(ValidationError) as raised:
        services.create_product(sku="bad sku!", name="x", price=Decimal("1"), currency="EUR")
    assert "sku" in raised.value.message_dict
    assert not Product.objects.filter(name="x").exists()


def test_update_product_sets_the_new_on_hand_count():
    mug = ProductFactory(stock=10, price=Decimal("12.90"))

    services.update_product(product=mug, stock=3, price=Decimal("11.00"), currency="chf")

    mug.refresh_from_db()
    assert (mug.stock, mug.price, mug.currency) == (3, Decimal("11.00"), "CHF")


@pytest.mark.django_db(transaction=True)
def test_stock_is_reserved_only_inside_the_transaction_of_an_order():
    """Outside one, the row locks would be let go at once and the units taken with no
    order to show for them."""
    mug = ProductFactory(sku="MUG-01", stock=10)

    with pytest.raises(RuntimeError, match="inside the transaction"):
        services.reserve_stock({"MUG-01": 1})

    assert stock_of(mug) == [10]
