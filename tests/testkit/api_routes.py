"""The API's routes as the URL conf declares them, for tests generated over every route:
a new endpoint in ``project.urls.api_v1`` is in them without anyone adding it to a list.
"""

from dataclasses import dataclass

from django.apps import apps
from django.urls import URLPattern, reverse
from rest_framework.generics import ListAPIView
from rest_framework.test import APIClient

from project.urls import api_v1
from tests.factories import PASSWORD, NotificationFactory, ProductFactory, StaffUserFactory, UserFactory, place_order
from tests.testkit.clients import client_for
from users.services import create_token

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    name: str  # the URL name, e.g. "order-cancel"
    route: str  # as written in the URL conf, e.g. "orders/<int:order_id>/cancel"
    params: tuple[str, ...]  # the path parameters, e.g. ("order_id",)
    view: type
    methods: tuple[str, ...]  # the methods the view answers (HEAD and OPTIONS aside)

    @property
    def lists(self) -> bool:
        """GET answers a paginated list."""
        return issubclass(self.view, ListAPIView) and not self.params

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(m for m in self.methods if m != "GET")

    def path(self, **params) -> str:
        return reverse(f"v1:{self.name}", kwargs=params)

    def __str__(self) -> str:
        return self.route


def api_routes() -> list[Route]:
    routes = []
    for pattern in api_v1:
        assert isinstance(pattern, URLPattern), f"{pattern!r}: nested includes are not walked yet"
        view = pattern.callback.view_class
        methods = tuple(m for m in HTTP_METHODS if hasattr(view, m.lower()))
        routes.append(
            Route(
                name=pattern.name,
                route=str(pattern.pattern),
                params=tuple(pattern.pattern.converters),
                view=view,
                methods=methods,
            )
        )
    return routes


# --- Writes -------------------------------------------------------------------------------
@dataclass
class WriteCall:
    """A write ready to send: who sends it, where, and a body the call accepts."""

    client: APIClient
    path: str
    body: dict
    method: str = "post"

    def send(self, body, **extra):
        """Send ``body`` (JSON unless ``content_type`` says otherwise)."""
        extra.setdefault("format", None if "content_type" in extra else "json")
        return getattr(self.client, self.method)(self.path, body, **extra)


def _path(name: str, **params) -> str:
    return reverse(f"v1:{name}", kwargs=params)


def _register():
    return WriteCall(
        APIClient(), _path("register"), {"username": "newcomer", "email": "new@example.com", "password": PASSWORD}
    )


def _token():
    user = UserFactory()
    return WriteCall(APIClient(), _path("token"), {"username": user.username, "password": PASSWORD})


def _logout():
    return WriteCall(client_for(UserFactory()), _path("logout"), {})


def _revoke_token():
    owner = UserFactory()
    client = client_for(owner)  # a token of its own to call with
    other_device = create_token(owner, name="the other device").token
    return WriteCall(client, _path("token-detail", token_id=other_device.pk), {}, "delete")


def _add_product():
    return WriteCall(
        client_for(StaffUserFactory()), _path("product-list"), {"sku": "NEW-01", "name": "New", "price": "1.00"}
    )


def _change_product():
    sku = ProductFactory().sku
    return WriteCall(client_for(StaffUserFactory()), _path("product-detail", sku=sku), {"name": "Renamed"}, "patch")


def _place_order():
    sku = ProductFactory().sku
    body = {"items": [{"sku": sku, "quantity": 1}], "payment_token": "tok_ok"}
    return WriteCall(client_for(UserFactory()), _path("order-list"), body)


def _cancel_order():
    owner = UserFactory()
    order = place_order(owner.customer, {ProductFactory(): 1})
    return WriteCall(client_for(owner), _path("order-cancel", order_id=order.pk), {})


def _stream_token():
    owner = UserFactory()
    order = place_order(owner.customer, {ProductFactory(): 1})
    return WriteCall(client_for(owner), _path("order-stream-token", order_id=order.pk), {})


def _read_notification():
    owner = UserFactory()
    notification = NotificationFactory(customer=owner.customer)
    return WriteCall(client_for(owner), _path("notification-read", notification_id=notification.pk), {})


def _ask_question():
    owner = UserFactory()
    order = place_order(owner.customer, {ProductFactory(): 1})
    return WriteCall(client_for(owner), _path("question-list"), {"question": "Where is my order?", "order": order.pk})


def _webhook():
    """A webhook endpoint (on a public address literal: no DNS needed)."""
    from webhooks.services import register_endpoint

    return register_endpoint(url="https://93.184.215.14/hooks", event_types=["order.paid"])


def _register_webhook():
    body = {"url": "https://93.184.215.14/hooks", "event_types": ["order.paid"]}
    return WriteCall(client_for(StaffUserFactory()), _path("webhook-list"), body)


def _change_webhook():
    path = _path("webhook-detail", webhook_id=_webhook().pk)
    return WriteCall(client_for(StaffUserFactory()), path, {"event_types": ["order.placed"]}, "patch")


def _delete_webhook():
    return WriteCall(client_for(StaffUserFactory()), _path("webhook-detail", webhook_id=_webhook().pk), {}, "delete")


def _rotate_webhook_secret():
    return WriteCall(client_for(StaffUserFactory()), _path("webhook-rotate-secret", webhook_id=_webhook().pk), {})


# Every write of the API, by URL name and method (tests check that none is missing).
WRITE_CALLS = {
    ("register", "POST"): _register,
    ("token", "POST"): _token,
    ("logout", "POST"): _logout,
    ("token-detail", "DELETE"): _revoke_token,
    ("product-list", "POST"): _add_product,
    ("product-detail", "PATCH"): _change_product,
    ("order-list", "POST"): _place_order,
    ("order-cancel", "POST"): _cancel_order,
    ("order-stream-token", "POST"): _stream_token,
    ("notification-read", "POST"): _read_notification,
    ("question-list", "POST"): _ask_question,
    ("webhook-list", "POST"): _register_webhook,
    ("webhook-detail", "PATCH"): _change_webhook,
    ("webhook-detail", "DELETE"): _delete_webhook,
    ("webhook-rotate-secret", "POST"): _rotate_webhook_secret,
}


def missing_write_calls() -> set[tuple[str, str]]:
    return {(route.name, method) for route in api_routes() for method in route.writes} - set(WRITE_CALLS)


def every_row() -> dict[str, list[dict]]:
    """Every row of the project's tables, to prove that a refused call changed nothing
    anywhere. A token's last use and expiry are left out: any call that presents it,
    refused or not, is a use of it (``users.services.note_token_use``)."""
    labels = ["users", "customers", "catalog", "orders", "payments", "notifications", "support", "events", "webhooks"]
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values(*_compared_fields(model)))
        for label in labels
        for model in apps.get_app_config(label).get_models()
    }


USE_FIELDS = {"users.ApiToken": {"last_used_at", "expires_at"}}


def _compared_fields(model) -> list[str]:
    skipped = USE_FIELDS.get(model._meta.label, set())
    return [f.attname for f in model._meta.concrete_fields if f.name not in skipped]
