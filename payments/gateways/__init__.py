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


class Gateway(Protocol):
    name: str

    def charge(self, *, amount: Decimal, currency: str, token: str, idempotency_key: str) -> ChargeResult:
        """Charge once per ``idempotency_key``: a repeated call returns the first result."""

    def refund(self, *, charge_id: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        """Refund once per ``idempotency_key``."""


@cache
def get_gateway() -> Gateway:
    return import_string(settings.PAYMENT_GATEWAY)()
