from .models import User


def email_taken(email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()
