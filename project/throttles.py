"""Request throttles: per client address without credentials, per account with them,
and stricter scopes for the calls worth abusing (a view's ``throttle_scope``: ``orders``
for placing orders, ``auth`` for logging in and registering).

The counters live in the default cache (``settings.CACHES``), which every web process
shares. A throttled call is a 429 in the API's error format with a ``Retry-After``
header (``project.errors``).

Each caller's rate is counted with a sliding window of two counters (this window's
and the last's, weighted by how much of the last still overlaps the sliding window),
not DRF's list of the time of every request in the window: one small read and one
small write per request whatever the rate, where DRF's list, rewritten in full at
every request, grows with the rate allowed (a thousand entries for 1000/min).
"""

import math

from django.core.exceptions import ImproperlyConfigured
from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings


class _RatesFromSettings:
    """DRF copies the rates when it is imported; read them when a request comes instead,
    so that changed settings (a test's) are the ones in force."""

    scope: str | None

    def get_rate(self) -> str | None:
        if self.scope is None:  # as DRF's own get_rate says
            raise ImproperlyConfigured(f"You must set either `.scope` or `.rate` for '{type(self).__name__}' throttle")
        rate = api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        return None if rate is None else str(rate)  # "100/min": the stubs have the rates as numbers


class SlidingWindowThrottle(throttling.SimpleRateThrottle):
    """``SimpleRateThrottle`` with two counters a caller instead of its history.

    The estimate of the calls in the last ``duration`` seconds is this window's count
    plus the last window's, weighted by the part of it the sliding window still covers
    (the usual approximation: exact for evenly spread calls, never more than one
    window's worth off). Like DRF's, the read and the write are not one atomic step:
    two calls of one caller at the same instant may both pass at the limit."""

    # Set by SimpleRateThrottle.__init__ from the rate (parse_rate); the stubs leave them out.
    num_requests: int
    duration: int

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        current, previous = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        counts = self.cache.get_many([current, previous])
        self.current, self.previous = counts.get(current, 0), counts.get(previous, 0)
        self.elapsed = self.now / self.duration - window  # the part of this window gone by
        if self.previous * (1 - self.elapsed) + self.current >= self.num_requests:
            return self.throttle_failure()
        # Kept two windows: the next one still weighs this one in.
        self.cache.set(current, self.current + 1, timeout=2 * self.duration)
        return True

    def wait(self):
        """Seconds until the estimate is under the rate again (at least 1)."""
        room = self.num_requests - self.current
        if room <= 0 or not self.previous:
            # This window alone is full: wait for the next, when it weighs less.
            return max(1.0, math.ceil((1 - self.elapsed) * self.duration))
        # The last window's weight (1 - elapsed) must fall below the room left in this one.
        elapsed_then = 1 - room / self.previous
        return max(1.0, math.ceil((elapsed_then - self.elapsed) * self.duration))


class AnonThrottle(_RatesFromSettings, throttling.AnonRateThrottle, SlidingWindowThrottle):
    """Calls without credentials, counted per client address (scope ``anon``)."""


class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle, SlidingWindowThrottle):
    """Calls with credentials, counted per account (scope ``user``)."""


class ScopedWriteThrottle(_RatesFromSettings, throttling.ScopedRateThrottle, SlidingWindowThrottle):
    """The view's ``throttle_scope``, counted per account (or client address without
    credentials), for writes only: listing one's orders is not placing one."""

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class ByAddressScopedThrottle(ScopedWriteThrottle):
    """The view's ``throttle_scope`` counted per client address even with credentials:
    for logging in, which is guessed at from one address with any number of accounts
    (a token of one's own must not buy a fresh allowance of password guesses)."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


# The throttles of a view whose scope is counted by address (the auth views).
BY_ADDRESS = [AnonThrottle, UserThrottle, ByAddressScopedThrottle]
