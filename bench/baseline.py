"""The bare baseline: the least an order endpoint has to do, served beside the real one.

``POST /api/v1/bench/bare-orders`` takes the body ``POST /api/v1/orders`` takes and goes
through the same DRF machinery (the project's default authentication, permission and
throttle classes, the ``orders`` throttle scope, the same renderer), validates it with
the same ``OrderInput`` through ``project.api.validated``, reads the products' prices
in one SELECT without a lock, inserts the ``Order`` and its ``OrderLine``s (one
bulk insert) in one transaction and answers 201 with the same ``OrderOutput``.

What it leaves out is what the accept section prices: no stock reservation (no row
locks, no stock updates), no outbox event, no dispatch to the broker. The ratio of
the two endpoints' throughput is the cost of those guarantees. Benchmark-only: it is
routed by ``bench.urls`` alone, never by ``project.urls``.
"""

from decimal import Decimal

from django.db import transaction
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Product
from customers import services as customer_services
from orders.models import Order, OrderLine
from orders.serializers import OrderInput, OrderOutput
from project.api import validated
from project.errors import invalid


class BareOrderApi(APIView):
    throttle_scope = "orders"  # counted like placing a real order (project.throttles)

    def post(self, request):
        data = validated(OrderInput, request.data)
        customer = customer_services.get_or_create_customer(request.user)
        quantities = {item["sku"]: item["quantity"] for item in data["items"]}
        products = {p.sku: p for p in Product.objects.filter(sku__in=quantities, is_active=True)}
        unknown = sorted(set(quantities) - set(products))
        if unknown:
            raise invalid("items", f"unknown product: {', '.join(unknown)}")
        lines = [(products[sku], quantity) for sku, quantity in quantities.items()]
        total = sum((product.price * quantity for product, quantity in lines), Decimal("0.00"))
        with transaction.atomic():
            order = Order.objects.create(customer=customer, total=total, currency=lines[0][0].currency)
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    product=product,
                    sku=product.sku,
                    name=product.name,
                    quantity=quantity,
                    unit_price=product.price,
                    line_total=product.price * quantity,
                )
                for product, quantity in lines
            )
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)
