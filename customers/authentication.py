"""API token authentication that brings the caller's shopper profile along.

Almost every call needs the user's ``Customer`` (their orders, points,
notifications), which would cost a second query, and placing an order a transaction of
its own. Here the token's query fetches the profile too (a user without one, a staff
account, has none cached), and ``customers.selectors.customer_of`` finds it on the user.
"""

from users import authentication


class TokenAuthentication(authentication.TokenAuthentication):
    related = ("user__customer",)
