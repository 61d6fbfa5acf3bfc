"""Redis Streams: ``XADD <prefix>.events`` (or ``<prefix>.<type>``) with the fields
``id``, ``type`` and ``envelope``, trimmed with ``MAXLEN ~``.

Redis does not de-duplicate, so the XADD is conditional on a marker
``<prefix>:exported:<id>``, checked and set in the same Lua script (atomic on the
server): a run sent again after its XADD (its worker killed before the run was marked
done) adds nothing. The marker is kept ``EVENTS_EXPORT_REDIS_DEDUP_DAYS`` and holds the
stream entry's id.
"""

import logging
from dataclasses import dataclass

import redis
from django.conf import settings

from events import public
from events.models import Event

logger = logging.getLogger(__name__)

# KEYS: marker, stream. ARGV: marker ttl (s), maxlen (0: none), id, type, envelope.
# The marker is set after the XADD: a script is not rolled back on error, and a failed
# XADD must leave no marker behind. Returns the new entry's id, or false if the event
# was exported before.
XADD_ONCE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local entry
if tonumber(ARGV[2]) > 0 then
  entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
                     'id', ARGV[3], 'type', ARGV[4], 'envelope', ARGV[5])
else
  entry = redis.call('XADD', KEYS[2], '*', 'id', ARGV[3], 'type', ARGV[4], 'envelope', ARGV[5])
end
redis.call('SET', KEYS[1], entry, 'EX', ARGV[1])
return entry
"""


@dataclass
class RedisStreamSink:
    url: str
    prefix: str = "orderflow"
    stream_per_type: bool = False
    maxlen: int = 1_000_000
    dedup_seconds: int = 3 * 86400
    timeout: float = 5.0
    name: str = "redis"

    @classmethod
    def from_settings(cls) -> "RedisStreamSink":
        return cls(
            url=settings.EVENTS_EXPORT_REDIS_URL,
            prefix=settings.EVENTS_EXPORT_PREFIX,
            stream_per_type=settings.EVENTS_EXPORT_REDIS_STREAM_PER_TYPE,
            maxlen=settings.EVENTS_EXPORT_REDIS_MAXLEN,
            dedup_seconds=max(1, round(settings.EVENTS_EXPORT_REDIS_DEDUP_DAYS * 86400)),
            timeout=settings.EVENTS_EXPORT_TIMEOUT,
        )

    def __post_init__(self) -> None:
        # The pool keeps the connection between events and drops one that failed, so
        # the next call connects again; the timeouts make a down Redis fail fast.
        self.client = redis.Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            health_check_interval=30,
        )
        self._script = self.client.register_script(XADD_ONCE)

    def stream_for(self, type_name: str) -> str:
        return f"{self.prefix}.{type_name}" if self.stream_per_type else f"{self.prefix}.events"

    def marker_for(self, event_id: str) -> str:
        return f"{self.prefix}:exported:{event_id}"

    def publish(self, event: Event) -> bool:
        event_id = str(event.key)
        entry = self._script(
            keys=[self.marker_for(event_id), self.stream_for(event.type)],
            args=[self.dedup_seconds, self.maxlen, event_id, event.type, public.envelope_json(event)],
        )
        if entry is None:
            logger.info("exports.redis: event %s was exported before; not added again", event_id)
            return False
        return True

    def close(self) -> None:
        self.client.close()
