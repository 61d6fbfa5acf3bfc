from decimal import Decimal

from django.core.management.base import BaseCommand

from catalog import selectors, services

DEMO_PRODUCTS = [
    ("MUG-01", "Mug", "12.90", 100),
    ("TEE-01", "T-shirt", "19.90", 50),
    ("CAP-01", "Cap", "15.00", 30),
    ("BAG-01", "Tote bag", "9.50", 200),
    ("STICKER-01", "Sticker pack", "3.20", 1000),
]


class Command(BaseCommand):
    help = "Load a small demo catalog (products that already exist are left alone)."

    def handle(self, *args, **options):
        created = 0
        for sku, name, price, stock in DEMO_PRODUCTS:
            if selectors.product_get(sku, include_inactive=True) is None:
                services.create_product(sku=sku, name=name, price=Decimal(price), currency="EUR", stock=stock)
                created += 1
        self.stdout.write(f"demo catalog: {created} products added, {len(DEMO_PRODUCTS) - created} already there")
