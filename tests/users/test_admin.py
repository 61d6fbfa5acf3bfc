import pytest
from django.urls import reverse

from tests.admin_support import PASSWORD, admin_page_problems, build_shop, register, registered_models
from users.models import User

# Apps whose own tests/<app>/test_admin.py opens their admin pages; this file opens
# every other registered admin: users', Django's, third parties' and any new app's.
APPS_TESTED_ELSEWHERE = ("customers", "catalog", "orders", "payments", "notifications", "events")


@pytest.mark.django_db(transaction=True)
def test_every_other_admin_page_renders_for_staff_and_redirects_others_to_login(admin_client, client, run_handlers):
    shop = build_shop(run_handlers)
    client.force_login(shop.shopper)
    models = registered_models(exclude=APPS_TESTED_ELSEWHERE)
    assert User in models

    assert admin_page_problems(models, staff_client=admin_client, other_client=client) == []


@pytest.mark.django_db
def test_admin_site_is_headed_orderflow(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["site_header"] == "Orderflow"
    assert b"Orderflow" in response.content


@pytest.mark.django_db
def test_staff_adds_a_user_with_an_email_address(admin_client):
    response = admin_client.post(
        reverse("admin:users_user_add"),
        {
            "username": "carol",
            "email": "carol@example.com",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    carol = User.objects.get(username="carol")
    assert carol.email == "carol@example.com"
    assert carol.check_password(PASSWORD)


@pytest.mark.django_db
def test_adding_a_user_with_an_email_already_used_in_another_case_is_refused(admin_client):
    register("alice")

    response = admin_client.post(
        reverse("admin:users_user_add"),
        {
            "username": "alice2",
            "email": "ALICE@example.com",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == ["A user with that email address already exists."]
    assert not User.objects.filter(username="alice2").exists()
