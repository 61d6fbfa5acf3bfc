"""``Authorization: Token <key>``, checked against the stored digests (``users.tokens``).

DRF's ``TokenAuthentication`` parses the header and answers its malformed forms; this
class replaces only the lookup: the key's digest (under the current secret and each
fallback) in one indexed query with the user, an expired token refused with a message
that says so, and the token's use noted (which slides its expiry).
"""

from django.utils import timezone
from rest_framework import authentication, exceptions

from . import selectors, services

EXPIRED = "Token expired: sign in again (POST /api/v1/auth/token) for a new one."


class TokenAuthentication(authentication.TokenAuthentication):
    # What the token's query brings along (``select_related``): a subclass adds what
    # its app reads on every request.
    related: tuple[str, ...] = ("user",)

    def authenticate_credentials(self, key):
        token = selectors.token_for_key(key, related=self.related)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(EXPIRED)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        services.note_token_use(token, now=now)
        return (token.user, token)
