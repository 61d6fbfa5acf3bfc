import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.services import CatalogError
from customers import selectors as customer_selectors
from customers import services as customer_services
from project.api import validated
from project.errors import Conflict, Unprocessable, invalid

from . import idempotency, selectors, services
from .serializers import OrderEventOutput, OrderInput, OrderOutput

VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=rf"^{VALID_KEY.pattern}$",
    description="1 to 255 printable ASCII characters, no spaces. Send the same key again with the same "
    "body to get the first answer again, with no second order. The same key with another body is 422; "
    "while the first request is still running, 409.",
)

PLACE_ORDER_REQUEST = OpenApiExample(
    "Two mugs",
    value={"items": [{"sku": "MUG-01", "quantity": 2}], "payment_token": "tok_ok"},
    request_only=True,
)
PLACE_ORDER_ANSWER = OpenApiExample(
    "Placed, payment to follow",
    value={
        "id": 42,
        "status": "pending",
        "total": "25.80",
        "currency": "EUR",
        "items": [{"sku": "MUG-01", "name": "Mug", "quantity": 2, "unit_price": "12.90", "line_total": "25.80"}],
        "created_at": "2026-01-31T09:30:00Z",
    },
    response_only=True,
    status_codes=["201"],
)


def _own_order(request, order_id: int):
    order = selectors.order_of(customer_selectors.customer_of(request.user), order_id)
    if order is None:
        raise NotFound("No such order.")
    return order


@extend_schema_view(get=extend_schema(summary="The caller's orders, newest first"))
class OrderListApi(ListAPIView):
    serializer_class = OrderOutput

    def get_queryset(self):
        customer = customer_selectors.customer_of(self.request.user)
        return selectors.orders_of(customer)

    @extend_schema(
        request=OrderInput,
        responses={201: OrderOutput},
        parameters=[IDEMPOTENCY_KEY],
        examples=[PLACE_ORDER_REQUEST, PLACE_ORDER_ANSWER],
        summary="Place an order",
    )
    def post(self, request):
        data = validated(OrderInput, request.data)
        customer = customer_services.customer_for(request.user)
        lines = [services.LineRequest(sku=i["sku"], quantity=i["quantity"]) for i in data["items"]]
        key = request.headers.get("Idempotency-Key")
        try:
            if key is None:
                order = services.place_order(customer=customer, lines=lines, payment_token=data["payment_token"])
                return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)
            if not VALID_KEY.fullmatch(key):
                raise invalid("Idempotency-Key", "1 to 255 printable ASCII characters, no spaces")
            status_code, body = services.place_order_once(
                customer=customer,
                idempotency_key=key,
                request_fingerprint=idempotency.fingerprint(request.data),
                render=lambda order: OrderOutput(order).data,
                lines=lines,
                payment_token=data["payment_token"],
            )
            return Response(body, status=status_code)
        except (CatalogError, services.OrderError) as exc:
            raise invalid(exc.field, str(exc)) from exc
        except idempotency.KeyReused as exc:
            raise Unprocessable("This Idempotency-Key was used with a different request.") from exc
        except idempotency.KeyInFlight as exc:
            raise Conflict("A request with this Idempotency-Key is still being processed.") from exc


class OrderDetailApi(APIView):
    @extend_schema(responses={200: OrderOutput}, summary="One of the caller's orders")
    def get(self, request, order_id: int):
        return Response(OrderOutput(_own_order(request, order_id)).data)


class OrderCancelApi(APIView):
    @extend_schema(
        request=None,
        responses={200: OrderOutput, 409: OpenApiResponse(Conflict, description="The order is already cancelled.")},
        summary="Cancel a pending or paid order",
    )
    def post(self, request, order_id: int):
        order = _own_order(request, order_id)
        try:
            order = services.cancel_order(order_id=order.pk, reason="customer", customer=order.customer)
        except services.OrderAlreadyCancelled as exc:
            raise Conflict(str(exc)) from exc
        return Response(OrderOutput(order).data)


@extend_schema(summary="The order's timeline of events, oldest first")
class OrderEventsApi(ListAPIView):
    serializer_class = OrderEventOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return selectors.order_timeline(None)
        return selectors.order_timeline(_own_order(self.request, self.kwargs["order_id"]))
