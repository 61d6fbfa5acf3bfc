from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from .models import Product, StockRelease


def product_list() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).order_by("sku")


def product_get(sku: str, *, include_inactive: bool = False) -> Product | None:
    products = Product.objects.all() if include_inactive else product_list()
    return products.filter(sku=sku).first()


def sku_taken(sku: str) -> bool:
    return Product.objects.filter(sku__iexact=sku).exists()


@dataclass(frozen=True)
class StockFigures:
    product_id: int
    sku: str
    on_hand: int
    received: int


def stock_figures() -> list[StockFigures]:
    """Every product's on-hand and received counts (inactive ones too: their stock
    is still accounted for)."""
    rows = Product.objects.order_by("id").values_list("id", "sku", "stock", "received")
    return [StockFigures(*row) for row in rows]


def releases_of(references: Iterable[str]) -> dict[str, dict[int, int]]:
    """Units given back per reference (e.g. ``order:42``), by product id."""
    released: dict[str, dict[int, int]] = defaultdict(dict)
    rows = StockRelease.objects.filter(reference__in=list(references)).values_list(
        "reference", "product_id", "quantity"
    )
    for reference, product_id, quantity in rows:
        released[reference][product_id] = quantity
    return dict(released)
