"""The HTTP API client of the end-to-end tests (``Api``: a customer of the shop talking
to a running stack's web process) and ``customer``, a seeded catalog and a signed-up
customer. Used by tests/e2e, tests/faults, tests/live/running and scripts/soak.py."""

import io
import itertools
import os
import time

import requests
from django.core.management import call_command

from .smtp import Mail
from .stack import Stack


class Api:
    """A customer of the shop, talking HTTP to the web process."""

    _seq = itertools.count(1)

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.session = requests.Session()
        self.username = ""
        self.email = ""

    def url(self, path: str) -> str:
        return f"{self.stack.base_url}/api/v1/{path.lstrip('/')}"

    def get(self, path: str, expect: int = 200) -> dict:
        response = self.session.get(self.url(path), timeout=30)
        assert response.status_code == expect, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> dict:
        response = self.session.post(self.url(path), json=body, timeout=30)
        assert response.status_code == expect, f"POST {path}: {response.status_code} {response.text}"
        return response.json()

    def sign_up(self) -> "Api":
        n = next(self._seq)
        self.username = f"e2e-{os.getpid()}-{int(time.time() * 1000)}-{n}"
        self.email = f"{self.username}@example.test"
        password = "a long e2e passphrase 42"
        user = self.post(
            "auth/register", {"username": self.username, "email": self.email, "password": password}, expect=201
        )
        assert user["username"] == self.username
        token = self.post("auth/token", {"username": self.username, "password": password})["token"]
        self.session.headers["Authorization"] = f"Token {token}"
        return self

    def product(self, sku: str) -> dict:
        return self.get(f"products/{sku}")

    def place_order(self, items: dict[str, int], token: str = "tok_ok") -> dict:
        body = {"items": [{"sku": s, "quantity": q} for s, q in items.items()], "payment_token": token}
        order = self.post("orders", body, expect=201)
        assert order["status"] == "pending"
        return order

    def order(self, order_id: int) -> dict:
        return self.get(f"orders/{order_id}")

    def timeline(self, order_id: int) -> list[str]:
        return [e["type"] for e in self.get(f"orders/{order_id}/events")["results"]]

    def points(self) -> list[dict]:
        return self.get("me/points")["results"]

    def notifications(self) -> list[dict]:
        return self.get("notifications")["results"]

    def mails(self) -> list[Mail]:
        return self.stack.smtp.to(self.email)

    def wait_status(self, order_id: int, status: str) -> dict:
        return self.stack.wait_for(
            lambda: (o := self.order(order_id))["status"] == status and o, f"order #{order_id} to be {status}"
        )


def customer(stack: Stack) -> Api:
    """A seeded catalog and a signed-up customer of a running stack."""
    call_command("seed_demo", stdout=io.StringIO())
    stack.check_alive()
    return Api(stack).sign_up()
