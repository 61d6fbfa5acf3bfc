"""Request throttles: per client address without credentials, per account with them,
and stricter scopes for the calls worth abusing (a view's ``throttle_scope``: ``orders``
for placing orders, ``auth`` for logging in and registering).

The counters live in the default cache (``settings.CACHES``), which every web process
shares. A throttled call is a 429 in the API's error format with a ``Retry-After``
header (``project.errors``).
"""

from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings


class _RatesFromSettings:
    """DRF copies the rates when it is imported; read them when a request comes instead,
    so that changed settings (a test's) are the ones in force."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]


class AnonThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    """Calls without credentials, counted per client address (scope ``anon``)."""


class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """Calls with credentials, counted per account (scope ``user``)."""


class ScopedWriteThrottle(_RatesFromSettings, throttling.ScopedRateThrottle):
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
