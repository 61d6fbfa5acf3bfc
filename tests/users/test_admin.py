import pytest
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory
from users.models import User


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
    UserFactory(username="alice")

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
