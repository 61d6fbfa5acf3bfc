"""Lists come in pages: 20 rows by default, ``page_size`` asks for another size up to
the cap (``project.pagination``); asking for more, or for nonsense, is a 400 naming the
parameter (the schema's bounds), never a silently different page."""

import pytest

from catalog.models import Product
from project.pagination import Pagination

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products"


@pytest.fixture
def many_products():
    count = Pagination.max_page_size + 5
    Product.objects.bulk_create(
        Product(sku=f"SKU-{n:04d}", name=f"Product {n}", price="1.00", stock=1) for n in range(count)
    )
    return count


def test_a_page_size_up_to_the_cap_is_served_and_over_it_is_400(api_client, many_products):
    at_cap = api_client.get(PRODUCTS, {"page_size": Pagination.max_page_size})
    over = api_client.get(PRODUCTS, {"page_size": 10_000})

    assert at_cap.status_code == 200
    body = at_cap.json()
    assert body["count"] == many_products
    assert len(body["results"]) == Pagination.max_page_size == 100
    assert body["next"] is not None
    assert over.status_code == 400
    assert list(over.json()["error"]["fields"]) == ["page_size"]


def test_the_default_page_and_a_smaller_page_size(api_client, many_products):
    assert len(api_client.get(PRODUCTS).json()["results"]) == Pagination.page_size == 20
    assert len(api_client.get(PRODUCTS, {"page_size": 3}).json()["results"]) == 3


@pytest.mark.parametrize("page_size", ["0", "-1", "many"])
def test_a_page_size_that_is_not_a_positive_number_is_400(api_client, many_products, page_size):
    response = api_client.get(PRODUCTS, {"page_size": page_size})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["page_size"]


def test_a_page_past_the_end_is_a_json_404(api_client, many_products):
    response = api_client.get(PRODUCTS, {"page": 999})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
