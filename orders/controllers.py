import re
from collections.abc import Callable

from django.http import HttpResponse
from django.http.response import HttpResponseBase
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
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.services import CatalogError
from customers import selectors as customer_selectors
from customers import services as customer_services
from project.api import NoInput, validated
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
    description="1 to 255 printable ASCII characters, unique per request you mean once (a UUID is fine). "
    "Send the same key with the same request again and you get the first answer again, byte for byte, "
    "with `Idempotent-Replayed: true`, and nothing is done twice. Keys are yours alone and kept for 24 h. "
    "The same key with another request (path or body) is 422; while the first request is still running, "
    "409. A refused request (4xx) does not use its key up.",
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


def _answer_once(request, customer, respond: Callable[[], tuple[int, dict]]) -> HttpResponseBase:
    """Run ``respond`` under the request's Idempotency-Key, if it has one.

    With a key the answer is rendered once, stored with the work in one transaction
    and sent as those stored bytes, so a replay is byte for byte the first answer.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status_code, data = respond()
        return Response(data, status=status_code)
    if not VALID_KEY.fullmatch(key):
        raise invalid("Idempotency-Key", "1 to 255 printable ASCII characters, no spaces")

    def render():
        status_code, data = respond()
        return status_code, JSONRenderer().render(data)

    try:
        answer = idempotency.answer_once(
            scope=idempotency.scope_of(customer),
            key=key,
            request_fingerprint=idempotency.fingerprint(request.method, request.path, request.data),
            respond=render,
        )
    except idempotency.KeyReused as exc:
        raise Unprocessable("This Idempotency-Key was used with a different request.") from exc
    except idempotency.KeyInFlight as exc:
        raise Conflict("A request with this Idempotency-Key is still being processed.") from exc
    response = HttpResponse(answer.body, status=answer.status, content_type="application/json")
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _own_order(request, order_id: int):
    order = selectors.order_of(customer_selectors.customer_of(request.user), order_id)
    if order is None:
        raise NotFound("No such order.")
    return order


@extend_schema_view(get=extend_schema(summary="The caller's orders, newest first"))
class OrderListApi(ListAPIView):
    serializer_class = OrderOutput
    throttle_scope = "orders"  # placing orders (writes only: project.throttles)

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
        customer = customer_services.get_or_create_customer(request.user)
        lines = [services.LineRequest(sku=i["sku"], quantity=i["quantity"]) for i in data["items"]]

        def place():
            try:
                order = services.place_order(customer=customer, lines=lines, payment_token=data["payment_token"])
            except (CatalogError, services.OrderError) as exc:
                raise invalid(exc.field, str(exc)) from exc
            return status.HTTP_201_CREATED, OrderOutput(order).data

        return _answer_once(request, customer, place)


class OrderDetailApi(APIView):
    @extend_schema(responses={200: OrderOutput}, summary="One of the caller's orders")
    def get(self, request, order_id: int):
        return Response(OrderOutput(_own_order(request, order_id)).data)


class OrderCancelApi(APIView):
    @extend_schema(
        request=NoInput,
        responses={200: OrderOutput, 409: OpenApiResponse(Conflict, description="The order is already cancelled.")},
        parameters=[IDEMPOTENCY_KEY],
        summary="Cancel a pending or paid order",
    )
    def post(self, request, order_id: int):
        order = _own_order(request, order_id)
        validated(NoInput, request.data)

        def cancel():
            try:
                cancelled = services.cancel_own_order(customer=order.customer, order_id=order.pk)
            except services.OrderAlreadyCancelled as exc:
                raise Conflict(str(exc)) from exc
            return status.HTTP_200_OK, OrderOutput(cancelled).data

        return _answer_once(request, order.customer, cancel)


@extend_schema(summary="The order's timeline of events, oldest first")
class OrderEventsApi(ListAPIView):
    serializer_class = OrderEventOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return selectors.order_timeline(None)
        return selectors.order_timeline(_own_order(self.request, self.kwargs["order_id"]))
