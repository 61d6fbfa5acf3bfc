from .models import User


def email_taken(email: str, *, other_than: User | None = None) -> bool:
    """Whether another account uses this email, in any case."""
    users = User.objects.filter(email__iexact=email)
    if other_than is not None:
        users = users.exclude(pk=other_than.pk)
    return users.exists()


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()
