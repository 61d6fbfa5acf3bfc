import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory
from users.models import ApiToken, User
from users.services import create_token


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


@pytest.mark.django_db
def test_staff_see_who_is_signed_in_where_and_revoke_a_token_never_seeing_a_key(admin_client):
    alice = UserFactory(username="alice")
    phone, laptop = create_token(alice, name="Alice's phone"), create_token(alice, name="Alice's laptop")

    listed = admin_client.get(reverse("admin:users_apitoken_changelist"))
    revoked = admin_client.post(
        reverse("admin:users_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [phone.token.pk]},
        follow=True,
    )

    assert listed.status_code == 200
    page = listed.content.decode()
    assert "Alice&#x27;s phone" in page
    assert "Alice&#x27;s laptop" in page
    assert phone.key not in page
    assert phone.token.digest not in page
    assert "Revoked 1 token(s)." in revoked.content.decode()
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["Alice's laptop"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {phone.key}")
    assert client.get("/api/v1/me").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {laptop.key}")
    assert client.get("/api/v1/me").status_code == 200
