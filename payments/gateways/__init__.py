"""The payment gateway interface. A real gateway plugs in behind it via the
``PAYMENT_GATEWAY`` setting (a dotted path)."""

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class GatewayUnavailable(Exception):
    """A transient failure: the charge may be tried again with the same key."""


@dataclass(frozen=True)
class ChargeResult:
    captured: bool
    charge_id: str
    decline_reason: str = ""


@dataclass(frozen=True)
class RefundResult:
    refund_id: str


@dataclass(frozen=True)
class VoidResult:
    """What a void found: money taken under the key is refunded (``refund_id`` set)."""

    charge_id: str = ""
    refund_id: str = ""


class Gateway(Protocol):
    name: str

    def charge(self, *, amount: Decimal, currency: str, token: str, idempotency_key: str) -> ChargeResult:
        """Charge once per ``idempotency_key``: a repeated call returns the first result."""

    def refund(self, *, charge_id: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        """Refund once per ``idempotency_key``."""

    def void(self, *, idempotency_key: str) -> VoidResult:
        """Make sure the charge under ``idempotency_key`` takes no money, whether or not
        it was made: a charge not made yet is declined when it comes; one captured is
        refunded in full. Idempotent. (A charge whose answer we never got, because the
        call timed out or the worker died, may have been captured: only the provider
        knows, so a cancellation must ask it rather than trust our own rows.)"""


@cache
def get_gateway() -> Gateway:
    return import_string(settings.PAYMENT_GATEWAY)()
