from django.db.models import QuerySet

from . import tokens
from .models import ApiToken
from .models import User as User  # re-exported: the type other apps annotate an account with


def email_taken(email: str, *, other_than: User | None = None) -> bool:
    """Whether another account uses this email, in any case."""
    users = User.objects.filter(email__iexact=email)
    if other_than is not None:
        users = users.exclude(pk=other_than.pk)
    return users.exists()


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def token_for_key(key: str, *, related: tuple[str, ...] = ("user",)) -> ApiToken | None:
    """The token ``key`` was issued as, expired or not, with ``related`` fetched in the
    same query; None if no token has that key."""
    found = list(ApiToken.objects.select_related(*related).filter(digest__in=tokens.candidate_digests(key))[:1])
    return found[0] if found else None


def tokens_of(user: User) -> QuerySet[ApiToken]:
    """The user's tokens, newest first, expired ones included until they are purged."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def token_of(user: User, token_id: int) -> ApiToken | None:
    """The user's token ``token_id``; None if there is none or it is someone else's."""
    return ApiToken.objects.filter(user=user, pk=token_id).first()
