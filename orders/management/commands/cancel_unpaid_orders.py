"""``manage.py cancel_unpaid_orders``: the periodic sweep of unpaid orders, from a shell.

Cancels orders left ``pending`` with no payment outcome past ``ORDER_PAYMENT_TIMEOUT``
(or ``--older-than``), through ``orders.services.cancel_unpaid_orders``: the same
cancellation, events and guarantees as the periodic task ``orders.cancel_unpaid_orders``.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from orders import selectors, services
from project.durations import duration_argument


class Command(BaseCommand):
    help = "Cancel orders still pending with no payment outcome after ORDER_PAYMENT_TIMEOUT (reason payment_timeout)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=duration_argument,
            metavar="AGE",
            help="Only orders placed longer ago than this, e.g. 30m, 2h (default: ORDER_PAYMENT_TIMEOUT).",
        )
        parser.add_argument(
            "--limit", type=int, default=200, help="At most this many orders in this call (default: 200)."
        )
        parser.add_argument("--dry-run", action="store_true", help="List the orders, change nothing.")

    def handle(self, *args, older_than: timedelta | None, limit: int, dry_run: bool, **options):
        if limit < 1:
            raise CommandError("--limit must be a positive number")
        older_than = older_than or timedelta(seconds=settings.ORDER_PAYMENT_TIMEOUT)
        if dry_run:
            ids = selectors.unpaid_order_ids(placed_before=timezone.now() - older_than, limit=limit)
            for order_id in ids:
                self.stdout.write(f"  order #{order_id}")
            self.stdout.write(f"would cancel {len(ids)} order(s) pending for more than {older_than}")
            return
        ids = services.cancel_unpaid_orders(older_than=older_than, limit=limit)
        for order_id in ids:
            self.stdout.write(f"  order #{order_id}")
        self.stdout.write(f"cancelled {len(ids)} order(s) pending for more than {older_than}")
