from decimal import Decimal

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import Product
from tests.factories import UserFactory, place_order


def product_form(**changes) -> dict:
    data = {"sku": "TEE-01", "name": "T-shirt", "price": "19.90", "currency": "eur", "stock": "50", "is_active": "on"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.django_db
def test_staff_adds_a_product_through_the_catalog_service(admin_client):
    response = admin_client.post(reverse("admin:catalog_product_add"), product_form())

    assert response.status_code == 302
    tee = Product.objects.get(sku="TEE-01")
    # The service upper-cases the currency; a plain model form would have stored "eur".
    assert (tee.name, tee.price, tee.currency, tee.stock, tee.is_active) == (
        "T-shirt",
        Decimal("19.90"),
        "EUR",
        50,
        True,
    )


def shown_on(page) -> dict:
    """The product form's fields as the change page showed them."""
    form = page.context["adminform"].form
    return {name: form[name].value() for name in ("name", "price", "currency", "stock", "is_active")}


def as_posted(shown: dict, **changes) -> dict:
    """What a browser sends back: the fields, edited, and hidden copies of the values
    the page was rendered with (an unticked checkbox is not sent at all)."""
    fields = {**shown, **changes}
    data = {k: v for k, v in fields.items() if k != "is_active"}
    if fields["is_active"]:
        data["is_active"] = "on"
    data.update({f"initial-{k}": v for k, v in shown.items()})
    return data


@pytest.mark.django_db
def test_staff_changes_price_stock_and_availability_but_not_the_sku(admin_client):
    mug = catalog_services.create_product(sku="MUG-01", name="Mug", price=Decimal("12.90"), currency="EUR", stock=10)
    url = reverse("admin:catalog_product_change", args=[mug.pk])
    shown = shown_on(admin_client.get(url))

    response = admin_client.post(
        url, {**as_posted(shown, price="14.50", currency="usd", stock="7", is_active=False), "sku": "HACKED"}
    )

    assert response.status_code == 302
    mug.refresh_from_db()
    assert (mug.sku, mug.price, mug.currency, mug.stock, mug.is_active) == (
        "MUG-01",
        Decimal("14.50"),
        "USD",
        7,
        False,
    )


@pytest.mark.django_db
def test_a_sku_taken_in_another_case_or_a_bad_currency_is_refused_with_a_message(admin_client):
    catalog_services.create_product(sku="MUG-01", name="Mug", price=Decimal("12.90"), currency="EUR")

    response = admin_client.post(reverse("admin:catalog_product_add"), product_form(sku="mug-01", currency="euro"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["sku"] == ["A product with this SKU already exists."]
    assert "currency" in errors
    assert not Product.objects.filter(sku="mug-01").exists()


@pytest.mark.django_db
def test_products_are_found_by_sku_or_name_and_never_deleted(admin_client):
    mug = catalog_services.create_product(sku="MUG-01", name="Mug", price=Decimal("12.90"), currency="EUR")
    catalog_services.create_product(sku="CAP-01", name="Cap", price=Decimal("15.00"), currency="EUR")
    url = reverse("admin:catalog_product_changelist")

    by_sku = admin_client.get(url, {"q": "mug-0"})
    by_name = admin_client.get(url, {"q": "cap"})
    delete = admin_client.post(reverse("admin:catalog_product_delete", args=[mug.pk]), {"post": "yes"})

    assert [p.sku for p in by_sku.context["cl"].result_list] == ["MUG-01"]
    assert [p.sku for p in by_name.context["cl"].result_list] == ["CAP-01"]
    assert delete.status_code == 403
    assert Product.objects.filter(pk=mug.pk).exists()


@pytest.mark.django_db
def test_saving_a_new_price_keeps_stock_an_order_took_while_the_page_was_open(admin_client):
    mug = catalog_services.create_product(sku="MUG-01", name="Mug", price=Decimal("12.90"), currency="EUR", stock=10)
    url = reverse("admin:catalog_product_change", args=[mug.pk])
    shown = shown_on(admin_client.get(url))
    assert shown["stock"] == 10
    place_order(UserFactory(username="alice").customer, {"MUG-01": 3})  # meanwhile, in the shop

    response = admin_client.post(url, as_posted(shown, price="14.50"))

    assert response.status_code == 302
    mug.refresh_from_db()
    assert (mug.price, mug.stock) == (Decimal("14.50"), 7)


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["E1R", "EU", "EURO"])
def test_a_currency_that_is_not_three_letters_is_refused_on_the_form(admin_client, currency):
    response = admin_client.post(reverse("admin:catalog_product_add"), product_form(currency=currency))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["currency"]
    assert not Product.objects.exists()
