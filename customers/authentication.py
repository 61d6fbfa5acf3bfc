"""API token authentication that brings the caller's shopper profile along.

DRF's ``TokenAuthentication`` reads the token and its user in one query; almost every
call then needs the user's ``Customer`` (their orders, points, notifications), which
cost a second query, and placing an order a transaction of its own. Here the same
query fetches the profile too (a user without one, a staff account, has none cached),
and ``customers.selectors.customer_of`` finds it on the user.
"""

from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user__customer").get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (token.user, token)
