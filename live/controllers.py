"""The live order stream: Server-Sent Events of one order's public events, and the
short-lived token a browser's ``EventSource`` opens it with.

The stream is an async view (it holds no thread while it waits): see ``stream``. Its
OpenAPI operation is described by ``OrderStreamApi``, a DRF view that exists for the
schema only; DRF's views are synchronous, so ``as_view`` hands Django the async view.
"""

import asyncio
import time
from typing import cast

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.utils.decorators import classonlymethod
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from customers import selectors as customer_selectors
from orders import selectors as order_selectors
from project.api import NoInput, validated
from project.errors import error_body

from . import db, selectors, sse, tokens
from .hub import hub
from .serializers import StreamTokenOutput

NOT_FOUND = "No such order."
RETRY_MS = 2000  # the browser's wait before it reconnects


# The API's own token authentication, the class the REST views use (the settings'),
# so a stream accepts exactly the tokens they do and the schema names one scheme.
# (DRF's settings hold the classes, imported; the stubs type the setting as its strings.)
TOKEN_AUTHENTICATION: type[authentication.TokenAuthentication] = next(
    cls
    for cls in cast(list[type], api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    if issubclass(cls, authentication.TokenAuthentication)
)


def _own_order(user, order_id: int):
    order = order_selectors.order_of(customer_selectors.customer_of(user), order_id)
    if order is None:
        raise exceptions.NotFound(NOT_FOUND)
    return order


class OrderStreamTokenApi(APIView):
    @extend_schema(
        request=NoInput,
        responses={201: StreamTokenOutput},
        summary="A short-lived token that opens this order's live stream",
        description="For a browser's `EventSource`, which cannot send an `Authorization` header: "
        "`GET /api/v1/orders/{order_id}/stream?token=<token>`. It opens this order's stream only, for "
        f"{settings.LIVE_STREAM_TOKEN_TTL} seconds (`LIVE_STREAM_TOKEN_TTL`); it is not an API token.",
    )
    def post(self, request, order_id: int):
        order = _own_order(request.user, order_id)
        validated(NoInput, request.data)
        issued = tokens.issue(order_id=order.pk, user_id=request.user.pk)
        return Response(StreamTokenOutput(issued).data, status=status.HTTP_201_CREATED)


# --- The stream ------------------------------------------------------------------------------
class Refused(Exception):
    def __init__(self, exc: exceptions.APIException):
        self.exc = exc

    def response(self) -> JsonResponse:
        code = self.exc.get_codes()
        body = error_body(code if isinstance(code, str) else "error", str(self.exc.detail))
        if isinstance(self.exc, exceptions.ValidationError):
            detail = self.exc.detail
            body = error_body("invalid", "Invalid input: Last-Event-ID.", detail if isinstance(detail, dict) else None)
        response = JsonResponse(body, status=self.exc.status_code, json_dumps_params={"separators": (",", ":")})
        if self.exc.status_code == status.HTTP_401_UNAUTHORIZED:
            response["WWW-Authenticate"] = "Token"
        return response


def _last_event_id(request) -> int:
    """Where a reconnect resumes: the ``Last-Event-ID`` header the browser sends, or the
    ``lastEventId`` query parameter (a page that opens a new ``EventSource`` itself,
    say with a fresh token); 0 for the start."""
    raw = request.headers.get("Last-Event-ID") or request.GET.get("lastEventId") or ""
    if raw == "":
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Refused(exceptions.ValidationError({"Last-Event-ID": ["The id of an event of this stream (digits)."]}))
    return int(raw)


def _open(request, order_id: int) -> str:
    """Who calls and whether the order is theirs (a database thread's work); the
    stream's name, or ``Refused``."""
    try:
        if request.headers.get("Authorization"):
            authenticated = TOKEN_AUTHENTICATION().authenticate(request)
            if authenticated is None:
                raise exceptions.AuthenticationFailed("Send `Authorization: Token <key>`.")
            user = authenticated[0]
        elif "token" in request.GET:
            user_id = tokens.user_id_for(request.GET["token"], order_id=order_id)
            user = selectors.active_user(user_id)
            if user is None:
                raise exceptions.AuthenticationFailed("Invalid stream token.")
        else:
            raise exceptions.NotAuthenticated()
        _own_order(user, order_id)
    except tokens.InvalidToken as exc:
        raise Refused(exceptions.AuthenticationFailed(str(exc))) from exc
    except exceptions.APIException as exc:
        raise Refused(exc) from exc
    return selectors.stream_of(order_id)


async def _events(stream: str, after: int):
    """The stream's body: what is there after ``after``, then each new event as it
    commits, a heartbeat comment when idle, until ``LIVE_STREAM_MAX_AGE`` (the browser
    then reconnects with ``Last-Event-ID``).

    It does not end when the order is paid or cancelled: no status is the last word of
    an order's timeline (a paid order may be cancelled and refunded; a capture may land
    after a cancellation and be refunded), so the server cannot know that nothing more
    will come. A client that has seen what it waits for closes the stream itself."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + settings.LIVE_STREAM_MAX_AGE
    yield sse.retry(RETRY_MS) + sse.comment(f"{stream} after {after}")
    streams = hub()
    wake = await streams.watch(stream)
    try:
        while True:
            wake.clear()  # before the read: an event committed during it wakes us again
            batch = await db.run(selectors.events_after, stream, after)
            for event in batch:
                yield sse.message(event_id=event.id, event_type=event.type, data=event.envelope)
                after = event.id
            if len(batch) == selectors.BATCH:
                continue
            left = ends - loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(wake.wait(), min(settings.LIVE_STREAM_HEARTBEAT, left))
            except TimeoutError:
                # Idle: a comment keeps proxies from closing the connection, and the
                # loop reads the table again (a notification lost with the LISTEN
                # connection costs at most this long).
                if loop.time() < ends:
                    yield sse.comment(f"heartbeat {int(time.time())}")
    finally:
        streams.unwatch(stream, wake)


async def stream(request, order_id: int) -> HttpResponseBase:
    db.release_request_thread()
    if request.method != "GET":
        body = error_body("method_not_allowed", f'Method "{request.method}" not allowed.')
        refused = JsonResponse(body, status=405)
        refused["Allow"] = "GET"
        return refused
    try:
        after = _last_event_id(request)
        served_async = isinstance(request, ASGIRequest)
        name = await (db.run if served_async else db.run_on_request_thread)(_open, request, order_id)
    except Refused as refused:
        return refused.response()
    response = StreamingHttpResponse(_events(name, after), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


STREAM_DESCRIPTION = f"""`text/event-stream` (Server-Sent Events) of the order's public events, as they commit.

Each message is `id: <sequence>`, `event: <type>` (e.g. `order.paid`) and `data: <the public envelope>`
(`{{"id", "type", "version", "occurred_at", "subject", "sequence", "data"}}`, as on every channel). The sequence is the
event's id: it grows in the order the order's events commit, so a reconnect with `Last-Event-ID` (the
header the browser sends by itself, or the `lastEventId` query parameter) gets exactly the events after
it, read from the database. A comment line (`: heartbeat ...`) comes every {settings.LIVE_STREAM_HEARTBEAT}
seconds when nothing else does. The stream never ends on its own before
`LIVE_STREAM_MAX_AGE` ({settings.LIVE_STREAM_MAX_AGE} s); the browser then reconnects and resumes.

Authenticate with `Authorization: Token <key>` or, from a browser's `EventSource`, with
`?token=<stream token>` (`POST /api/v1/orders/{{order_id}}/stream-token`). Served by the ASGI
application only (`project.asgi`)."""


class OrderStreamApi(APIView):
    """For the OpenAPI document: ``as_view`` serves ``stream``."""

    authentication_classes = (TOKEN_AUTHENTICATION,)  # or ?token=: no session cookie
    throttle_classes = ()  # opening a stream is not throttled (it costs one short read)

    @classonlymethod
    def as_view(cls, **initkwargs):
        async def view(request, *args, **kwargs):
            return await stream(request, *args, **kwargs)

        # As APIView.as_view marks its views: drf-spectacular documents the class's
        # operations, and no CSRF check (a token, never a session cookie, opens a stream).
        view.__dict__.update(cls=cls, view_class=cls, initkwargs=initkwargs, csrf_exempt=True)
        return view

    @extend_schema(
        operation_id="v1_orders_stream_retrieve",
        summary="The order's live status: Server-Sent Events",
        description=STREAM_DESCRIPTION,
        parameters=[
            OpenApiParameter(
                "token", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False, description="A stream token."
            ),
            OpenApiParameter(
                "lastEventId",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                pattern=r"^[0-9]{1,18}$",
                description="Resume after this event id (as the `Last-Event-ID` header).",
            ),
            OpenApiParameter(
                "Last-Event-ID",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                pattern=r"^[0-9]{1,18}$",
                description="Resume after this event id; the browser sends it when it reconnects.",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="The stream: `id:`, `event:`, `data:` lines per event; comment lines as heartbeats.",
            )
        },
    )
    def get(self, request, order_id: int):  # pragma: no cover - never called: as_view serves ``stream``
        raise NotImplementedError
