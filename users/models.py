from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A login. Shoppers get a ``customers.Customer`` profile when they register."""

    email = models.EmailField("email address")

    class Meta(AbstractUser.Meta):
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_unique_ci"),
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]
