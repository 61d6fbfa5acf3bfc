from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A login. Shoppers get a ``customers.Customer`` profile when they register."""

    email = models.EmailField("email address")

    # The ignore: django-stubs do not declare AbstractUser.Meta, which Django has.
    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_unique_ci"),
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]


class ApiToken(models.Model):
    """An API key a user signed in with: one per device or integration.

    Only the key's digest is stored (``users.tokens``): the key itself is shown once,
    when it is issued. A token expires ``TOKEN_TTL`` after it was last used (sliding),
    and its owner or staff may revoke it (delete the row) at any time.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="The device or integration, as the owner named it.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "API token"
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_newest")]

    def __str__(self) -> str:
        return f"{self.user} · {self.name or 'unnamed'} (#{self.pk})"
