"""Products and their stock.

Stock is reserved and released only here, always under row locks taken in id order,
so two orders for the same products queue instead of deadlocking, and stock can never
go negative (a check constraint backs this up in the database).

Stock is conserved: ``Product.received`` counts every unit staff put into stock (net
of write-offs), and is always what is on hand plus what pending orders reserve plus
what paid orders took. Staff change ``stock``; the difference moves ``received`` in
the same row update. A cancelled order's units come back with a ``StockRelease`` row,
the per-order proof the invariant checker looks for.

Services that a handler calls join its transaction whole (``atomic(savepoint=False)``):
the effect and the run's done-mark commit together or not at all, and a failure rolls
back the caller's transaction with it, without a savepoint's two extra round trips.
Called on their own, they are a transaction of their own.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict, Unpack

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When

from . import selectors
from .models import Product, StockRelease


class CatalogError(Exception):
    field = "items"


class UnknownProduct(CatalogError):
    def __init__(self, skus: list[str]):
        self.skus = skus
        super().__init__(f"unknown product: {', '.join(skus)}")


class OutOfStock(CatalogError):
    def __init__(self, shortages: dict[str, tuple[int, int]]):
        self.shortages = shortages
        detail = ", ".join(f"{sku} (asked {want}, {have} left)" for sku, (want, have) in shortages.items())
        super().__init__(f"not enough stock: {detail}")


class ProductExists(CatalogError):
    field = "sku"

    def __init__(self, sku: str):
        super().__init__(f"A product with SKU {sku} already exists (SKUs are compared without case).")


@dataclass(frozen=True)
class Reservation:
    product_id: int
    sku: str
    name: str
    unit_price: Decimal
    currency: str
    quantity: int


def reserve_stock(quantities: dict[str, int]) -> list[Reservation]:
    """Take ``quantities`` (sku -> units) out of stock, all or nothing, in the caller's
    transaction (the order's: the units are taken exactly when the order is made).

    Locks the products in id order; raises ``UnknownProduct`` or ``OutOfStock`` and
    changes nothing if any line cannot be served: every check comes before the one
    write, so no savepoint is needed to undo anything. Returns the reserved lines priced
    from the catalog, in the order of ``quantities``. Two statements however many
    lines: the locking read and one UPDATE of every product's stock.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve_stock must run inside the transaction of the order it reserves for")
    products = {
        p.sku: p for p in Product.objects.select_for_update().filter(sku__in=quantities, is_active=True).order_by("id")
    }
    unknown = [sku for sku in quantities if sku not in products]
    if unknown:
        raise UnknownProduct(unknown)
    short = {sku: (qty, products[sku].stock) for sku, qty in quantities.items() if products[sku].stock < qty}
    if short:
        raise OutOfStock(short)
    taken = Case(*(When(pk=products[sku].pk, then=Value(qty)) for sku, qty in quantities.items()))
    Product.objects.filter(pk__in=[p.pk for p in products.values()]).update(stock=F("stock") - taken)
    return [
        Reservation(p.pk, p.sku, p.name, p.price, p.currency, quantities[sku])
        for sku in quantities
        for p in [products[sku]]
    ]


@transaction.atomic(savepoint=False)
def release_stock(quantities: Iterable[tuple[int, int]], *, reference: str) -> None:
    """Put ``(product id, units)`` back on hand for ``reference`` (e.g. ``order:42``,
    which was cancelled) and record the release. Once per reference and product: a
    second call for the same reference puts nothing back twice."""
    done = set(StockRelease.objects.filter(reference=reference).values_list("product_id", flat=True))
    for product_id, qty in sorted(quantities):
        if product_id in done:
            continue
        Product.objects.filter(pk=product_id).update(stock=F("stock") + qty)
        StockRelease.objects.create(product_id=product_id, reference=reference, quantity=qty)


@transaction.atomic
def create_product(
    *, sku: str, name: str, price: Decimal, currency: str | None = None, stock: int = 0, is_active: bool = True
) -> Product:
    """Add a product. Raises ``ProductExists`` if the SKU is taken in any case, and
    Django's ``ValidationError`` for a field the model refuses."""
    if selectors.sku_taken(sku):
        raise ProductExists(sku)
    currency = (currency or settings.DEFAULT_CURRENCY).upper()
    product = Product(
        sku=sku, name=name, price=price, currency=currency, stock=stock, received=stock, is_active=is_active
    )
    product.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:  # a concurrent create of the same SKU won
        raise ProductExists(sku) from exc
    return product


class ProductChanges(TypedDict, total=False):
    """What staff may change of a product (each field optional)."""

    name: str
    price: Decimal
    currency: str
    stock: int
    is_active: bool


@transaction.atomic
def update_product(*, product: Product, **changes: Unpack[ProductChanges]) -> Product:
    """Change a product's fields; stock set here is the new on-hand count, and the
    difference from the count it replaces (under the row lock, so an order taking
    stock meanwhile is not miscounted) is units received or written off."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if "stock" in changes:
        product.received += changes["stock"] - product.stock
    if "currency" in changes:
        changes["currency"] = changes["currency"].upper()
    for field, value in changes.items():
        setattr(product, field, value)
    product.full_clean()
    product.save()
    return product
