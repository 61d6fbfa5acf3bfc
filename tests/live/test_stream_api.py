"""The live order stream through Django's AsyncClient (the async view as the ASGI server
runs it) and the stream-token route: who may open what, the SSE framing, heartbeats,
and resuming with Last-Event-ID. The new events come from the real services, committed
in another thread, and wake the stream through the process's hub (LISTEN/NOTIFY on
PostgreSQL, polling on SQLite)."""

import asyncio
import json
import time
from unittest import mock

import pytest
from django.db import connection
from django.test import AsyncClient
from django.urls import reverse
from rest_framework.test import APIClient

from events import public
from events.models import Event
from live import hub
from orders import services as order_services
from orders.signals import CancelReason
from tests.factories import ProductFactory, StaffUserFactory, UserFactory, place_order
from tests.testkit.clients import client_for
from users.services import create_token

from .sse import Reader

pytestmark = pytest.mark.usefixtures("live_db")


def stream_path(order_id: int) -> str:
    return reverse("v1:order-stream", kwargs={"order_id": order_id})


def token_path(order_id: int) -> str:
    return reverse("v1:order-stream-token", kwargs={"order_id": order_id})


def headers_for(user) -> dict:
    return {"Authorization": f"Token {create_token(user).key}"}


async def in_thread(fn, *args, **kwargs):
    """A database call from the test, on a thread of its own (the loop's thread must not
    block), its connection closed after."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def run(scenario):
    return asyncio.run(scenario)


@pytest.fixture
def shop():
    owner = UserFactory()
    product = ProductFactory(stock=100)
    order = place_order(owner.customer, {product: 1})
    return owner, product, order


def order_events(order_id: int) -> list[Event]:
    return list(Event.objects.filter(stream=f"order:{order_id}").order_by("id"))


# --- the stream token ---------------------------------------------------------------------
def test_the_owner_gets_a_stream_token_another_customer_404_nobody_401(shop):
    owner, _, order = shop

    answer = client_for(owner).post(token_path(order.pk))
    other = client_for(UserFactory()).post(token_path(order.pk))
    staff = client_for(StaffUserFactory()).post(token_path(order.pk))
    anonymous = APIClient().post(token_path(order.pk))

    assert answer.status_code == 201, answer.content
    assert set(answer.json()) == {"token", "expires_at"}
    assert (other.status_code, other.json()["error"]["code"]) == (404, "not_found")
    assert (staff.status_code, staff.json()["error"]["code"]) == (404, "not_found")
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "not_authenticated")


def test_the_stream_token_is_no_api_token(shop):
    owner, _, order = shop
    token = client_for(owner).post(token_path(order.pk)).json()["token"]

    answer = APIClient(headers={"Authorization": f"Token {token}"}).get(reverse("v1:order-list"))

    assert answer.status_code == 401


# --- who may open a stream ----------------------------------------------------------------
async def opened(path: str, headers: dict | None = None):
    response = await AsyncClient().get(path, headers=headers or {})
    if response.streaming:
        reader = Reader(response.streaming_content)
        first = await reader.block()
        return response, reader, first
    return response, None, None


def test_a_stream_opens_with_the_owners_api_token_or_a_stream_token(shop):
    owner, _, order = shop
    token = client_for(owner).post(token_path(order.pk)).json()["token"]
    headers = headers_for(owner)

    async def scenario():
        by_header, _, _ = await opened(stream_path(order.pk), headers)
        by_token, _, _ = await opened(f"{stream_path(order.pk)}?token={token}")
        return by_header, by_token

    for response in run(scenario()):
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        assert response["X-Accel-Buffering"] == "no"


@pytest.mark.parametrize("who", ["another customer", "staff"])
def test_someone_elses_order_stream_is_not_found(shop, who):
    _, _, order = shop
    caller = UserFactory() if who == "another customer" else StaffUserFactory()

    response, _, _ = run(opened(stream_path(order.pk), headers_for(caller)))

    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "No such order."}


def test_a_stream_without_credentials_or_with_a_bad_api_token_is_401(shop):
    _, _, order = shop

    nobody, _, _ = run(opened(stream_path(order.pk)))
    bad, _, _ = run(opened(stream_path(order.pk), {"Authorization": "Token not-a-real-key"}))

    assert nobody.status_code == 401
    assert nobody.json()["error"]["code"] == "not_authenticated"
    assert nobody["WWW-Authenticate"] == "Token"
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "authentication_failed"


def test_a_stream_token_opens_its_own_order_only_and_only_until_it_expires(shop, settings):
    owner, product, order = shop
    other_order = place_order(owner.customer, {product: 1})
    token = client_for(owner).post(token_path(order.pk)).json()["token"]
    later = time.time() + settings.LIVE_STREAM_TOKEN_TTL + 1

    other, _, _ = run(opened(f"{stream_path(other_order.pk)}?token={token}"))
    forged, _, _ = run(opened(f"{stream_path(order.pk)}?token={token[:-2]}xx"))
    with mock.patch("django.core.signing.time.time", return_value=later):
        expired, _, _ = run(opened(f"{stream_path(order.pk)}?token={token}"))

    assert other.status_code == 401
    assert other.json()["error"]["message"] == "This stream token is for another order."
    assert forged.status_code == 401
    assert forged.json()["error"]["message"] == "Invalid stream token."
    assert expired.status_code == 401
    assert expired.json()["error"]["message"].startswith("Stream token expired")


def test_a_stream_token_of_a_user_who_lost_the_order_opens_nothing(shop):
    owner, _, order = shop
    token = client_for(owner).post(token_path(order.pk)).json()["token"]
    owner.is_active = False
    owner.save()

    response, _, _ = run(opened(f"{stream_path(order.pk)}?token={token}"))

    assert response.status_code == 401


def test_a_last_event_id_that_is_not_an_id_is_a_400_naming_it(shop):
    owner, _, order = shop

    response, _, _ = run(opened(stream_path(order.pk), {**headers_for(owner), "Last-Event-ID": "abc"}))

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"Last-Event-ID": ["The id of an event of this stream (digits)."]}


# --- what it sends ------------------------------------------------------------------------
def test_each_event_is_its_id_type_and_public_envelope_then_new_ones_as_they_commit(shop):
    owner, _, order = shop
    headers = headers_for(owner)

    async def scenario():
        _response, reader, first = await opened(stream_path(order.pk), headers)
        opening = await reader.block()
        [placed] = await reader.events(1)
        await in_thread(order_services.mark_paid, order_id=order.pk)  # committed while the stream waits
        [paid] = await reader.events(1)
        return first, opening, placed, paid

    first, opening, placed, paid = run(scenario())

    assert first.retry == "2000"
    assert opening.comments == [f"order:{order.pk} after 0"]
    stored = order_events(order.pk)
    assert [e.type for e in stored] == ["order.placed", "order.paid"]
    for block, event in zip((placed, paid), stored, strict=True):
        assert block.id == str(event.pk)
        assert block.event == event.type
        assert block.data == [public.envelope_json(event).decode()]
    envelope = json.loads(placed.data[0])
    assert envelope["subject"] == f"order:{order.pk}"
    assert "payment_token" not in envelope["data"]  # a private field never leaves


def test_an_idle_stream_sends_a_heartbeat_comment(shop, settings):
    settings.LIVE_STREAM_HEARTBEAT = 0.2
    owner, _, order = shop
    headers = headers_for(owner)

    async def scenario():
        _, reader, _ = await opened(stream_path(order.pk), headers)
        return await reader.until_comment("heartbeat")

    blocks = run(scenario())

    assert [b.event for b in blocks if b.is_event] == ["order.placed"]
    assert not blocks[-1].is_event
    assert blocks[-1].comments[0].startswith("heartbeat ")


def test_a_stream_ends_at_its_maximum_age(shop, settings):
    settings.LIVE_STREAM_MAX_AGE = 0.5
    owner, _, order = shop
    headers = headers_for(owner)

    async def scenario():
        response = await AsyncClient().get(stream_path(order.pk), headers=headers)
        return b"".join([chunk async for chunk in response.streaming_content])

    body = run(scenario()).decode()

    assert body.count("event: order.placed") == 1


def test_a_reconnect_with_last_event_id_gets_exactly_the_events_after_it(shop, settings):
    settings.LIVE_STREAM_HEARTBEAT = 0.2
    owner, _, order = shop
    headers = headers_for(owner)

    async def scenario():
        _, reader, _ = await opened(stream_path(order.pk), headers)
        [placed] = await reader.events(1)
        # Disconnected; meanwhile the order is paid, then cancelled (and refunded).
        await in_thread(order_services.mark_paid, order_id=order.pk)
        await in_thread(order_services.cancel_order, order_id=order.pk, reason=CancelReason.CUSTOMER)
        _, by_header, _ = await opened(stream_path(order.pk), {**headers, "Last-Event-ID": placed.id})
        _, by_query, _ = await opened(f"{stream_path(order.pk)}?lastEventId={placed.id}", headers)
        # Up to the first heartbeat: what the database held after the id, and no more.
        after_header = [b for b in await by_header.until_comment("heartbeat") if b.is_event]
        after_query = [b for b in await by_query.until_comment("heartbeat") if b.is_event]
        return placed, after_header, after_query

    placed, after_header, after_query = run(scenario())

    stored = order_events(order.pk)
    assert [e.type for e in stored] == ["order.placed", "order.paid", "order.cancelled"]
    assert placed.id == str(stored[0].pk)
    for resumed in (after_header, after_query):
        assert [(b.id, b.event) for b in resumed] == [(str(e.pk), e.type) for e in stored[1:]]


def test_a_resumed_stream_repeats_nothing_and_misses_nothing_across_many_reconnects(shop):
    """Reconnect after every event while events keep coming: the events received, in
    order, are exactly the order's events."""
    owner, _product, order = shop
    headers = headers_for(owner)

    async def scenario():
        received = []
        last = None
        writes = [
            (order_services.mark_paid, {"order_id": order.pk}),
            (order_services.cancel_order, {"order_id": order.pk, "reason": CancelReason.CUSTOMER}),
        ]
        for step in range(3):
            extra = {"Last-Event-ID": last} if last else {}
            _, reader, _ = await opened(stream_path(order.pk), {**headers, **extra})
            [block] = await reader.events(1)
            received.append((block.id, block.event))
            last = block.id
            if step < len(writes):
                fn, kwargs = writes[step]
                await in_thread(fn, **kwargs)
        return received

    received = run(scenario())

    assert received == [(str(e.pk), e.type) for e in order_events(order.pk)]


def _listeners() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            [f"LISTEN {hub.CHANNEL}"],
        )
        return [row[0] for row in cursor.fetchall()]


def _cut_listeners() -> list[int]:
    pids = _listeners()
    with connection.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pids


async def _listening_again(cut: list[int]) -> list[int]:
    for _ in range(300):  # up to 30 s
        found = await in_thread(_listeners)
        if found and found != cut:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("the hub did not LISTEN again")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's; SQLite polls")
def test_a_stream_gets_what_commits_while_its_process_lost_the_listen_connection(shop, settings):
    # No heartbeat within the test's waits: only the hub, listening again, can wake it.
    settings.LIVE_STREAM_HEARTBEAT = 600
    owner, _, order = shop
    headers = headers_for(owner)

    async def scenario():
        _, reader, _ = await opened(stream_path(order.pk), headers)
        [placed] = await reader.events(1)
        cut = await in_thread(_cut_listeners)
        # Committed while the process is not listening: the streams re-read when the
        # hub finds its connection gone.
        await in_thread(order_services.mark_paid, order_id=order.pk)
        [paid] = await reader.events(1)
        listening_again = await _listening_again(cut)
        # And the new connection wakes it as the old one did.
        await in_thread(order_services.cancel_order, order_id=order.pk, reason=CancelReason.CUSTOMER)
        [cancelled] = await reader.events(1)
        return cut, placed, paid, listening_again, cancelled

    cut, placed, paid, listening_again, cancelled = run(scenario())

    assert len(cut) == 1  # the process's one LISTEN connection, for all its streams
    assert (placed.event, paid.event) == ("order.placed", "order.paid")
    assert len(listening_again) == 1
    assert listening_again != cut
    assert cancelled.event == "order.cancelled"
