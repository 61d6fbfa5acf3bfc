"""The stream sinks (Redis Streams and NATS JetStream, each behind a TCP proxy the test
cuts) away while orders keep coming, and a worker killed right after a sink took an
event: payments never wait for the sinks, and once they are back every public event of
every order is in each stream exactly once (by id)."""

import asyncio
import secrets
from collections import Counter

import nats
import pytest
import redis

from events import public
from events.models import Event, HandlerRun
from orders.models import Order
from tests.testkit.proxy import BrokerProxy

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

REDIS = ("127.0.0.1", 6379)
REDIS_DB = 5
NATS = ("127.0.0.1", 4222)


class Sinks:
    """Both sinks, each behind its proxy, under names of this test's own."""

    def __init__(self) -> None:
        self.prefix = f"orderflow_fault_{secrets.token_hex(4)}"
        self.nats_stream = self.prefix.upper()
        self.redis_proxy, self.nats_proxy = BrokerProxy(REDIS), BrokerProxy(NATS)
        self.redis_proxy.on()
        self.nats_proxy.on()
        self.redis = redis.Redis(*REDIS, db=REDIS_DB)

    def env(self) -> dict[str, str]:
        return {
            "EVENTS_EXPORT_REDIS_URL": f"redis://127.0.0.1:{self.redis_proxy.port}/{REDIS_DB}",
            "EVENTS_EXPORT_NATS_URL": f"nats://127.0.0.1:{self.nats_proxy.port}",
            "EVENTS_EXPORT_PREFIX": self.prefix,
            "EVENTS_EXPORT_NATS_STREAM": self.nats_stream,
            "EVENTS_EXPORT_TIMEOUT": "1",
            # The stack's retries back off at most 1 s: an outage of a minute takes
            # dozens of attempts, where production's backoff would take a few.
            "EVENTS_EXPORT_MAX_ATTEMPTS": "1000",
        }

    def cut(self) -> None:
        self.redis_proxy.off()
        self.nats_proxy.off()

    def restore(self) -> None:
        self.redis_proxy.on()
        self.nats_proxy.on()

    def redis_ids(self) -> Counter:
        entries = self.redis.xrange(f"{self.prefix}.events", "-", "+")
        return Counter(fields[b"id"].decode() for _, fields in entries)

    def nats_ids(self) -> Counter:
        return asyncio.run(self._nats_ids())

    async def _nats_ids(self) -> Counter:
        nc = await nats.connect(f"nats://{NATS[0]}:{NATS[1]}", connect_timeout=2, allow_reconnect=False)
        try:
            js = nc.jetstream(timeout=5)
            state = (await js.stream_info(self.nats_stream)).state
            ids = Counter()
            for seq in range(state.first_seq, state.last_seq + 1):
                ids[(await js.get_msg(self.nats_stream, seq)).headers["Nats-Msg-Id"]] += 1
            return ids
        finally:
            await nc.close()

    def close(self) -> None:
        self.redis_proxy.off()
        self.nats_proxy.off()
        for key in self.redis.scan_iter(match=f"{self.prefix}[.:]*", count=1000):
            self.redis.delete(key)
        self.redis.close()

        async def delete():
            nc = await nats.connect(f"nats://{NATS[0]}:{NATS[1]}", connect_timeout=2, allow_reconnect=False)
            try:
                await nc.jetstream(timeout=5).delete_stream(self.nats_stream)
            except nats.js.errors.NotFoundError:
                pass
            finally:
                await nc.close()

        asyncio.run(delete())


@pytest.fixture
def sinks(shop):
    """The stack's every process exporting to both sinks (the shop fixture puts the
    processes back as they were afterwards)."""
    sinks = Sinks()
    try:
        for role in ("worker", "web", "relay"):
            shop.stack.restart(role, env=sinks.env())
        yield sinks
    finally:
        # A test that failed may leave exports open: their sinks go away now, and the
        # stack must settle for the next test.
        HandlerRun.objects.filter(handler__startswith="exports.", status__in=HandlerRun.OPEN).update(
            status=HandlerRun.Status.SKIPPED, last_error="the test that exported it ended"
        )
        sinks.close()


def public_event_ids(order_ids: list[int]) -> set[str]:
    events = Event.objects.filter(stream__in=[f"order:{i}" for i in order_ids], type__in=public.PUBLIC_EVENT_TYPES)
    return {str(key) for key in events.values_list("key", flat=True)}


def assert_exported_once(sinks: Sinks, order_ids: list[int]) -> int:
    expected = public_event_ids(order_ids)
    assert len(expected) >= 3 * len(order_ids)  # placed, and captured + paid or failed + cancelled
    for name, ids in (("redis", sinks.redis_ids()), ("nats", sinks.nats_ids())):
        assert set(ids) == expected, f"{name}: missing {expected - set(ids)}, extra {set(ids) - expected}"
        assert [i for i, n in ids.items() if n > 1] == [], f"{name}: exported twice"
    return len(expected)


def test_events_of_orders_placed_while_the_sinks_were_cut_arrive_once_each_when_they_are_back(shop, sinks):
    stack = shop.stack
    stream = shop.stream()
    stream.place(6)

    sinks.cut()
    stream.place(12)
    outage = stream.accepted[6:]
    exports = HandlerRun.objects.filter(
        handler__in=("exports.redis", "exports.nats"), event__stream__in=[f"order:{i}" for i in outage]
    )
    final = (Order.Status.PAID, Order.Status.CANCELLED)
    # Payments and mails go on meanwhile: every order of the outage is settled while
    # its events still wait for the sinks, retrying.
    stack.wait_for(
        lambda: not Order.objects.filter(pk__in=outage).exclude(status__in=final).exists(),
        "the orders of the outage to be paid or cancelled",
    )
    stack.wait_for(
        lambda: exports.filter(status=HandlerRun.Status.RETRYING, attempts__gte=3).count() >= 6,
        "the exports to be retrying",
    )
    assert not exports.filter(status=HandlerRun.Status.DONE).exists()
    assert not exports.filter(status=HandlerRun.Status.FAILED).exists()

    sinks.restore()
    stream.place(6)

    order_ids = stream.committed()
    tally = shop.verify(order_ids, outage_orders=len(outage))
    assert tally.orders == 24
    exported = assert_exported_once(sinks, order_ids)
    shop.say(f"exported {exported} public events once each to Redis and NATS")


def test_a_worker_killed_after_a_sink_took_an_event_adds_it_to_no_stream_twice(shop, sinks):
    stack = shop.stack
    # A pool process dies at every third export, after the sink has the event and
    # before its run is marked done: the run is handled again.
    stack.restart("worker", kill=True, env={"ORDERFLOW_CRASH_POINTS": "exports.after_publish:every=3"})
    stream = shop.stream()
    stream.place(12)

    order_ids = stream.committed()
    shop.quiesce(order_ids)
    tally = shop.verify(order_ids, after_publish_kills=shop.crash_kills("worker"))
    assert shop.crash_kills("worker") >= 3
    assert tally.orders == 12
    exported = assert_exported_once(sinks, order_ids)
    shop.say(f"exported {exported} public events once each to Redis and NATS")
