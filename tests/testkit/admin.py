"""Helpers for the admin tests: a small shop built through the services, and a check
that every admin page of a set of models renders for staff and is closed to others.

The shop's flow runs for real: orders are placed with ``orders.services.place_order``,
their events dispatched after commit to the configured broker, and the handlers run by
the shared ``run_handlers`` fixture (so use ``@pytest.mark.django_db(transaction=True)``).
"""

import socket
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser

from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from audit import services as audit_services
from catalog import services as catalog_services
from events.models import Event
from orders.models import Order
from tests.factories import PASSWORD, UserFactory, place_order
from users import services as user_services
from webhooks import services as webhook_services
from webhooks.models import Attempt, Delivery


@dataclass
class Shop:
    shopper: object
    product: object
    paid_order: Order
    cancelled_order: Order


def build_shop(run_handlers) -> Shop:
    """A shopper with one paid order and one whose payment was declined, every
    handler run done: there is then a row in every table the admin shows."""
    shopper = UserFactory(username="alice")
    product = catalog_services.create_product(
        sku="MUG-01", name="Mug", price=Decimal("12.90"), currency="EUR", stock=10
    )
    paid = place_order(shopper.customer, {product: 2})
    declined = place_order(shopper.customer, {product: 1}, payment_token="tok_declined")
    run_handlers()
    paid.refresh_from_db()
    declined.refresh_from_db()
    assert (paid.status, declined.status) == ("paid", "cancelled")
    user_services.issue_token(username="alice", password=PASSWORD)
    audit_services.record_invariant_check()  # a report for its admin page
    # Django's and celery beat's own admins: one row each, so their pages are seen too.
    Group.objects.create(name="shop staff")
    every_5s = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="relay", task="events.relay", interval=every_5s)
    CrontabSchedule.objects.create(minute="0", hour="3")
    SolarSchedule.objects.create(event="sunrise", latitude=Decimal("48.85"), longitude=Decimal("2.35"))
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    # A webhook endpoint with a delivery and its attempt, written directly: through the
    # fan-out they would leave messages on the broker for the test's later rounds.
    endpoint = webhook_services.register_endpoint(url="https://93.184.215.14/hooks", event_types=["order.paid"])
    paid_event = Event.objects.get(stream=f"order:{paid.pk}", type="order.paid")
    delivery = Delivery.objects.create(event=paid_event, endpoint=endpoint, event_type="order.paid", attempts=1)
    Attempt.objects.create(delivery=delivery, number=1, outcome="rejected", status_code=500, duration_ms=12)
    return Shop(shopper=shopper, product=product, paid_order=paid, cancelled_order=declined)


def registered_models():
    """Models with an admin, from ``admin.site._registry``: a new admin is tested
    without anyone adding it to a list."""
    return sorted(admin.site._registry, key=lambda m: m._meta.label)


def admin_page_problems(models, *, staff_client, other_client) -> list[str]:
    """Every model's changelist and the change page of one real row: 200 for
    ``staff_client``, a redirect to the admin login for ``other_client``."""
    problems = []
    for model in models:
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            problems.append(f"{model._meta.label}: no row to open; add one to tests.testkit.admin.build_shop")
            continue
        info = (model._meta.app_label, model._meta.model_name)
        urls = [
            reverse("admin:{}_{}_changelist".format(*info)),
            reverse("admin:{}_{}_change".format(*info), args=[obj.pk]),
        ]
        for url in urls:
            status = staff_client.get(url).status_code
            if status != 200:
                problems.append(f"{url}: staff got {status}, not 200")
            response = other_client.get(url)
            login = f"{reverse('admin:login')}?next={url}"
            if response.status_code != 302 or response["Location"] != login:
                problems.append(f"{url}: non-staff got {response.status_code} {response.get('Location')}, not {login}")
    return problems


def closed_port() -> int:
    """A local TCP port nothing listens on (connecting to it is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def break_email(settings) -> None:
    """Point email at an SMTP server that is not there: mail handlers then fail for
    real, each attempt, until their runs are failed."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port()
    settings.EMAIL_TIMEOUT = 2


def mend_email(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


class _TableRows(HTMLParser):
    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.depth = 0  # > 0 inside the table
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        named = self.name is None or self.name == attrs.get("id") or self.name in (attrs.get("class") or "").split()
        if tag == "table" and (self.depth or named):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if self.depth and tag == "table":
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html, name: str | None) -> list[list[str]]:
    """The text of each cell, row by row, of the tables with that id or class (or of
    every table, for None)."""
    parser = _TableRows(name)
    html = html.decode() if isinstance(html, bytes) else html
    parser.feed(html)
    return parser.rows


def rows_of(response) -> list[dict[str, str]]:
    """A changelist's rows, as {lower-case column title: cell text}."""
    table = table_rows(response.content, "result_list")
    if not table:  # nothing listed: no table at all
        return []
    header, *rows = table
    return [dict(zip([h.lower() for h in header], row, strict=True)) for row in rows]


def messages_of(response) -> list[str]:
    """The messages the admin showed after a request (followed)."""
    return [str(m) for m in response.context["messages"]]


def admin_action(client, model_label: str, action: str, objs):
    """Run a changelist action, e.g. ``admin_action(client, "events.handlerrun",
    "retry_failed_runs", runs)``, and follow to the page it lands on."""
    app, model = model_label.split(".")
    return client.post(
        reverse(f"admin:{app}_{model}_changelist"),
        {"action": action, "_selected_action": [o.pk for o in objs]},
        follow=True,
    )
