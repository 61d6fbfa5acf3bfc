"""Who may call what: a matrix generated from the URL conf (``project.urls.api_v1``).

- A route with a path parameter names an object. Customer A owns it, and every method
  the view answers is called by customer B, by a staff account and without
  credentials: B and staff get a 404 (nothing tells them it exists), the anonymous
  caller a 401, and no row anywhere changes. A itself gets an answer, which proves the
  URL reaches the object. Catalog products (``sku``) are public to read and staff-only
  to write: 401 without credentials, 403 for a customer. Webhook endpoints
  (``webhook_id``) are staff's alone: 401 without credentials, 403 for a customer,
  an answer for staff.
- A list shows each caller only their own rows (the catalog: everyone every product).
- Every other route needs credentials, unless it is listed as public.

A route the rules below do not cover fails here, saying what to add: a new endpoint
cannot be left out. ``pytest tests/project/test_permission_matrix.py -rA`` lists every
case and prints the size of the matrix.
"""

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

import pytest
from rest_framework.test import APIClient

from catalog.models import Product
from support import services as support_services
from tests.factories import (
    NotificationFactory,
    PointsEntryFactory,
    ProductFactory,
    StaffUserFactory,
    UserFactory,
    place_order,
)
from tests.testkit.api_routes import Route, api_routes, every_row
from tests.testkit.clients import client_for
from users.services import create_token
from webhooks.services import register_endpoint

pytestmark = pytest.mark.django_db

ROUTES = api_routes()


# --- The rules ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PathObject:
    """How to make the object a path parameter names, and what goes in the path."""

    make: Callable  # (customer A) -> the object
    value: Callable  # object -> the path parameter
    owned: bool | str  # True: A's alone; False: a catalog product, public to read, staff-only to write;
    # "staff": staff's alone (to read and write)


PATH_OBJECTS = {
    "order_id": PathObject(lambda customer: place_order(customer, {ProductFactory(): 1}), attrgetter("pk"), True),
    "notification_id": PathObject(lambda customer: NotificationFactory(customer=customer), attrgetter("pk"), True),
    "sku": PathObject(lambda customer: ProductFactory(), attrgetter("sku"), False),
    "question_id": PathObject(
        lambda customer: support_services.ask(customer=customer, question="Where is my order?"), attrgetter("pk"), True
    ),
    "token_id": PathObject(lambda customer: create_token(customer.user).token, attrgetter("pk"), True),
    "webhook_id": PathObject(
        lambda customer: register_endpoint(url="https://93.184.215.14/hooks", event_types=["order.paid"]),
        attrgetter("pk"),
        "staff",
    ),
}


@dataclass(frozen=True)
class OwnRows:
    """How to give a customer a row of a list, and how to recognise it in the list."""

    make: Callable  # customer -> the row's key
    key: Callable  # a row of the answer -> its key


def _points_entry(customer):
    return PointsEntryFactory(customer=customer, order=place_order(customer, {ProductFactory(): 1})).order_id


OWN_LISTS = {
    "order-list": OwnRows(lambda customer: place_order(customer, {ProductFactory(): 1}).pk, lambda row: row["id"]),
    "notification-list": OwnRows(lambda customer: NotificationFactory(customer=customer).pk, lambda row: row["id"]),
    "my-points": OwnRows(_points_entry, lambda row: row["order"]),
    "question-list": OwnRows(
        lambda customer: support_services.ask(customer=customer, question="Points?").pk, lambda row: row["id"]
    ),
    "token-list": OwnRows(lambda customer: create_token(customer.user).token.pk, lambda row: row["id"]),
}
PUBLIC_LISTS = {"product-list"}  # the catalog: everyone sees every active product
PUBLIC_ROUTES = {"register", "token"}  # the way in: no credentials needed
STAFF_WRITES = {"product-list", "webhook-list"}  # adding to the catalog, registering webhooks: staff only
STAFF_LISTS = {"webhook-list"}  # staff's alone: a customer is refused

# What a write sends, where the call takes a body (a staff write must be able to succeed).
BODIES = {
    ("product-list", "POST"): {"sku": "NEW-01", "name": "New product", "price": "1.00"},
    ("product-detail", "PATCH"): {"name": "Renamed by the caller", "price": "0.01", "stock": 0},
    ("webhook-list", "POST"): {"url": "https://93.184.215.14/new", "event_types": ["order.placed"]},
    ("webhook-detail", "PATCH"): {"description": "changed by the caller"},
}
CODES = {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


# --- The cases, from the URL conf ---------------------------------------------------------
@dataclass(frozen=True)
class Case:
    route: Route
    method: str
    actor: str  # "owner" (customer A), "customer" (B), "staff", "anonymous"
    expect: int | str  # a status, "2xx", or a rule to check ("own rows", "every product")

    @property
    def id(self) -> str:
        return f"{self.method} {self.route} as {self.actor} -> {self.expect}"


def _object_cases(route: Route) -> list[Case]:
    if len(route.params) != 1 or route.params[0] not in PATH_OBJECTS:
        return [Case(route, method, "-", "a rule") for method in route.methods]
    owned = PATH_OBJECTS[route.params[0]].owned
    cases = []
    for method in route.methods:
        if owned == "staff":
            expected = {"customer": 403, "staff": "2xx", "anonymous": 401}
        elif owned:
            expected = {"owner": "2xx", "customer": 404, "staff": 404, "anonymous": 401}
        elif method == "GET":
            expected = {"customer": 200, "staff": 200, "anonymous": 200}
        else:
            expected = {"customer": 403, "staff": "2xx", "anonymous": 401}
        cases += [Case(route, method, actor, expect) for actor, expect in expected.items()]
    return cases


def _other_cases(route: Route) -> list[Case]:
    cases = []
    for method in route.methods:
        if method == "GET" and route.lists:
            if route.name in STAFF_LISTS:
                expected = {"customer": 403, "staff": "2xx", "anonymous": 401}
            elif route.name in OWN_LISTS:
                expected = {"customer": "own rows", "staff": "own rows", "anonymous": 401}
            elif route.name in PUBLIC_LISTS:
                expected = {"customer": "every product", "anonymous": "every product"}
            else:
                expected = {"-": "a rule"}
        elif route.name in PUBLIC_ROUTES:
            expected = {"anonymous": 400}  # open, and its body is checked (an empty one is not enough)
        elif route.name in STAFF_WRITES:
            expected = {"customer": 403, "staff": "2xx", "anonymous": 401}
        else:
            expected = {"anonymous": 401}
        cases += [Case(route, method, actor, expect) for actor, expect in expected.items()]
    return cases


OBJECT_CASES = [case for route in ROUTES if route.params for case in _object_cases(route)]
OTHER_CASES = [case for route in ROUTES if not route.params for case in _other_cases(route)]
LIST_CASES = [case for case in OTHER_CASES if case.expect in ("own rows", "every product")]
PLAIN_CASES = [case for case in OTHER_CASES if case not in LIST_CASES]
CASES = OBJECT_CASES + OTHER_CASES


def _ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]


# --- Helpers ------------------------------------------------------------------------------
@dataclass
class Cast:
    owner: object  # customer A
    customer: object  # customer B
    staff: object
    clients: dict[str, APIClient]


@pytest.fixture
def cast() -> Cast:
    owner, customer, staff = UserFactory(), UserFactory(), StaffUserFactory()
    clients = {
        "owner": client_for(owner),
        "customer": client_for(customer),
        "staff": client_for(staff),
        "anonymous": APIClient(),
    }
    return Cast(owner, customer, staff, clients)


def call(client: APIClient, method: str, path: str, body: dict | None):
    return getattr(client, method.lower())(path, body, format="json" if body is not None else None)


def assert_answer(response, expect, case: Case) -> None:
    # A stream (the live order status) is never read to its end here: it has none.
    body = "(a stream)" if response.streaming else repr(response.content[:300])
    where = f"{case.id}: got {response.status_code} {body}"
    if expect == "2xx":
        assert 200 <= response.status_code < 300, where
        return
    assert response.status_code == expect, where
    if expect >= 400:
        assert response.json()["error"]["code"] == CODES[expect], where


def fail_without_a_rule(case: Case) -> None:
    if case.expect == "a rule":
        pytest.fail(
            f"{case.route} (name {case.route.name!r}, path parameters {case.route.params}) has no rule in "
            f"{__name__}: add how to make the object to PATH_OBJECTS, or the list to OWN_LISTS / PUBLIC_LISTS"
        )


# --- The matrix ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", OBJECT_CASES, ids=_ids(OBJECT_CASES))
def test_an_object_named_in_the_path_answers_only_as_its_rules_allow(case: Case, cast: Cast):
    fail_without_a_rule(case)
    rule = PATH_OBJECTS[case.route.params[0]]
    obj = rule.make(cast.owner.customer)
    path = case.route.path(**{case.route.params[0]: rule.value(obj)})
    before = every_row()

    response = call(cast.clients[case.actor], case.method, path, BODIES.get((case.route.name, case.method)))

    assert_answer(response, case.expect, case)
    if response.status_code >= 400:
        assert every_row() == before, f"{case.id}: a refused call changed the database"


@pytest.mark.parametrize("case", LIST_CASES, ids=_ids(LIST_CASES))
def test_a_list_shows_the_caller_only_their_own_rows(case: Case, cast: Cast):
    if case.expect == "every product":
        ProductFactory.create_batch(3)
        ProductFactory(is_active=False)
        expected = set(Product.objects.filter(is_active=True).values_list("pk", flat=True))
        key = OwnRows(None, lambda row: row["id"]).key
    else:
        rule = OWN_LISTS[case.route.name]
        for _ in range(2):
            rule.make(cast.owner.customer)
        caller = getattr(cast, case.actor)
        expected = {rule.make(caller.customer)} if hasattr(caller, "customer") else set()
        key = rule.key

    response = cast.clients[case.actor].get(case.route.path(), {"page_size": 100})

    assert response.status_code == 200, f"{case.id}: got {response.status_code} {response.content[:300]!r}"
    # A list of tokens also shows the one the caller is calling with: theirs too.
    rows = [row for row in response.json()["results"] if not row.get("current")]
    assert {key(row) for row in rows} == expected
    assert response.json()["count"] == len(response.json()["results"])
    assert len(rows) == len(expected)


@pytest.mark.parametrize("case", PLAIN_CASES, ids=_ids(PLAIN_CASES))
def test_a_route_without_an_object_needs_credentials_unless_public(case: Case, cast: Cast):
    fail_without_a_rule(case)
    body = BODIES.get((case.route.name, case.method)) if case.expect != 400 else {}
    before = every_row()

    response = call(cast.clients[case.actor], case.method, case.route.path(), body)

    assert_answer(response, case.expect, case)
    assert every_row() == before or response.status_code < 400, f"{case.id}: a refused call changed the database"


def test_the_matrix_covers_every_api_route_and_method():
    """The size of the matrix, printed for the record (``-rA`` shows it)."""
    route_methods = {(route.name, method) for route in ROUTES for method in route.methods}
    covered = {(case.route.name, case.method) for case in CASES}

    assert route_methods - covered == set()
    assert len(CASES) >= len(route_methods) >= len(ROUTES)
    assert {route.name for route in ROUTES if route.params} == {case.route.name for case in OBJECT_CASES}
    print(
        f"permission matrix: {len(ROUTES)} API routes, {len(route_methods)} route x method pairs, "
        f"{len(CASES)} cases ({len(OBJECT_CASES)} on objects in the path, {len(LIST_CASES)} on lists, "
        f"{len(PLAIN_CASES)} on the other routes)"
    )
