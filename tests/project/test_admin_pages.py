import pytest

from support import services as support_services
from tests.testkit.admin import admin_page_problems, build_shop, registered_models


@pytest.mark.django_db(transaction=True)
def test_every_admin_page_renders_for_staff_and_redirects_everyone_else_to_login(admin_client, client, run_handlers):
    """Every model in the admin registry, so a new admin is covered without anyone
    adding it here: its list and the change page of a real row."""
    shop = build_shop(run_handlers)
    # The support desk's table: a question answered from the declined order's facts.
    support_services.ask(customer=shop.shopper.customer, question="Why?", order_id=shop.cancelled_order.pk)
    run_handlers()
    client.force_login(shop.shopper)
    models = registered_models()
    apps = {model._meta.app_label for model in models}
    assert {"users", "customers", "catalog", "orders", "payments", "notifications", "support", "events"} <= apps

    assert admin_page_problems(models, staff_client=admin_client, other_client=client) == []
