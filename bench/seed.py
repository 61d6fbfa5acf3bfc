"""Seed the benchmark's database: a catalog and customers with API tokens.

Run as its own process, after ``migrate``, with the run's environment plus
``PASSWORD_HASHERS=django.contrib.auth.hashers.MD5PasswordHasher`` (registering
hundreds of accounts with the production hasher would take minutes; no process that
serves requests runs with it)::

    python -m bench.seed --products 1000 --customers 200 --out workload.json

Everything goes through the apps' services, as staff and shoppers would: products
through ``catalog.services.create_product`` (SKUs ``P-0001``... and the flash-sale
product ``HOT-1``, each with 10**9 units so that no run runs out), customers through
``users.services.register_user``. It writes the SKUs and the customers' API tokens to
``--out`` as JSON: the load driver's workload.
"""

import argparse
import json
import os
from decimal import Decimal
from pathlib import Path

STOCK = 10**9
HOT_SKU = "HOT-1"
PASSWORD = "a long benchmark passphrase 42"


def api_token(user) -> str:
    """The key a client sends as ``Authorization: Token <key>``. The one place that
    knows how tokens are stored: change it here if that changes."""
    from users.services import create_token

    return create_token(user, name="benchmark").key


def seed_catalog(products: int) -> list[str]:
    """``products`` products plus ``HOT-1``; returns the spread catalog's SKUs."""
    from catalog.services import create_product

    skus = [f"P-{n:04d}" for n in range(1, products + 1)]
    for n, sku in enumerate(skus, start=1):
        # Prices vary (1.90 to 99.90) so totals and points differ from order to order.
        create_product(sku=sku, name=f"Benchmark product {n}", price=Decimal(f"{n % 99 + 1}.90"), stock=STOCK)
    create_product(sku=HOT_SKU, name="Flash sale", price=Decimal("9.90"), stock=STOCK)
    return skus


def seed_customers(customers: int) -> list[str]:
    """``customers`` registered shoppers; returns their API tokens."""
    from users.services import register_user

    tokens = []
    for n in range(1, customers + 1):
        user = register_user(username=f"bench-{n:04d}", email=f"bench-{n:04d}@bench.example", password=PASSWORD)
        tokens.append(api_token(user))
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.db import transaction

    # One commit for the lot: a commit per row (each service's own transaction, now a
    # savepoint) would spend most of the time waiting for the disk.
    with transaction.atomic():
        workload = {"skus": seed_catalog(args.products), "hot_sku": HOT_SKU, "tokens": seed_customers(args.customers)}
    args.out.write_text(json.dumps(workload))


if __name__ == "__main__":
    main()
