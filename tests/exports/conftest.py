"""Real Redis (127.0.0.1:6379, database 5) and real NATS JetStream (127.0.0.1:4222),
each test under names of its own (a random prefix, a JetStream stream
ORDERFLOW_TEST_<random>), deleted afterwards; a sink that is down is an address where
nothing listens, or a TCP proxy (``tests.testkit.proxy``) that a test cuts."""

import asyncio
import json
import secrets
from dataclasses import dataclass

import nats
import pytest
import redis

from exports import sinks
from tests.testkit.exports import NATS_URL, REDIS_URL


@pytest.fixture(autouse=True)
def _fresh_sinks():
    """Each test builds its sinks from its own settings; none outlives it."""
    sinks.close_all()
    yield
    sinks.close_all()


@pytest.fixture
def export_prefix(settings) -> str:
    prefix = f"orderflow_test_{secrets.token_hex(4)}"
    settings.EVENTS_EXPORT_PREFIX = prefix
    settings.EVENTS_EXPORT_TIMEOUT = 2.0
    return prefix


# --- Redis ----------------------------------------------------------------------------
@dataclass
class RedisStream:
    client: redis.Redis
    prefix: str

    def entries(self, stream: str | None = None) -> list[dict[str, str]]:
        """Every entry of the stream (``<prefix>.events`` by default), oldest first."""
        name = stream or f"{self.prefix}.events"
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in self.client.xrange(name, "-", "+")]


@pytest.fixture
def redis_stream(settings, export_prefix):
    """Exports to Redis database 5 enabled; the test's stream(s) and markers deleted after."""
    settings.EVENTS_EXPORT_REDIS_URL = REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield RedisStream(client, export_prefix)
    finally:
        for pattern in (f"{export_prefix}.*", f"{export_prefix}:*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        client.close()


# --- NATS -----------------------------------------------------------------------------
@dataclass
class NatsMessage:
    subject: str
    headers: dict
    data: bytes

    @property
    def envelope(self) -> dict:
        return json.loads(self.data)


@dataclass
class JetStream:
    stream: str
    prefix: str

    def messages(self) -> list[NatsMessage]:
        """Every message in the test's stream, by sequence."""

        async def read():
            nc = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
            try:
                js = nc.jetstream(timeout=2)
                info = await js.stream_info(self.stream)
                out = []
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    msg = await js.get_msg(self.stream, seq)
                    out.append(NatsMessage(msg.subject, dict(msg.headers or {}), msg.data))
                return out if info.state.messages else []
            finally:
                await nc.close()

        return asyncio.run(read())

    def delete(self) -> None:
        async def delete():
            nc = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
            try:
                await nc.jetstream(timeout=2).delete_stream(self.stream)
            except nats.js.errors.NotFoundError:
                pass
            finally:
                await nc.close()

        asyncio.run(delete())


@pytest.fixture
def jetstream(settings, export_prefix):
    """Exports to NATS enabled, into a JetStream stream of the test's own (deleted after)."""
    settings.EVENTS_EXPORT_NATS_URL = NATS_URL
    settings.EVENTS_EXPORT_NATS_STREAM = export_prefix.upper()
    settings.EVENTS_EXPORT_NATS_DUPLICATE_WINDOW = 600.0
    stream = JetStream(export_prefix.upper(), export_prefix)
    try:
        yield stream
    finally:
        sinks.close_all()
        stream.delete()
