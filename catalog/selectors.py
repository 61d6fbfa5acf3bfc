from django.db.models import QuerySet

from .models import Product


def product_list() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).order_by("sku")


def product_get(sku: str, *, include_inactive: bool = False) -> Product | None:
    products = Product.objects.all() if include_inactive else product_list()
    return products.filter(sku=sku).first()


def sku_taken(sku: str) -> bool:
    return Product.objects.filter(sku__iexact=sku).exists()
