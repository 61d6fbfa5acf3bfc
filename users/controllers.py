from django.contrib.auth import logout
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import selectors as customer_selectors
from project import throttles
from project.api import NoInput, validated
from project.errors import invalid

from . import selectors, services
from .models import ApiToken, User
from .serializers import ApiTokenOutput, MeOutput, RegisterInput, TokenInput, TokenOutput, UserOutput


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_scope = "auth"
    throttle_classes = throttles.BY_ADDRESS

    @extend_schema(
        request=RegisterInput,
        responses={201: UserOutput},
        examples=[
            OpenApiExample(
                "Ada",
                value={"username": "ada", "email": "ada@example.com", "password": "a long passphrase"},
                request_only=True,
            ),
            OpenApiExample(
                "Ada's account",
                value={"id": 7, "username": "ada", "email": "ada@example.com"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        summary="Create a shopper account",
    )
    def post(self, request):
        data = validated(RegisterInput, request.data)
        try:
            user = services.register_user(**data)
        except services.AccountExists as exc:
            raise invalid(exc.field, str(exc)) from exc
        except DjangoValidationError as exc:  # the password validators, one message each
            raise ValidationError({"password": exc.messages}) from exc
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    # Authenticators stay configured (none is required) so that a refusal is a 401
    # with its WWW-Authenticate challenge, as API.md says for bad credentials.
    permission_classes = [AllowAny]
    throttle_scope = "auth"
    throttle_classes = throttles.BY_ADDRESS

    @extend_schema(
        request=TokenInput,
        responses={
            200: TokenOutput,
            401: OpenApiResponse(AuthenticationFailed, description="No active account has this username and password."),
        },
        examples=[
            OpenApiExample(
                "Ada signs in", value={"username": "ada", "password": "a long passphrase"}, request_only=True
            ),
            OpenApiExample(
                "Ada's token",
                value={
                    "token": "ofk_Qm9yZ2VzIGFuZCB0aGUgbGFieXJpbnRoIG9mIGtleXMgaGVyZQ",
                    "id": 12,
                    "expires_at": "2026-12-30T09:15:00Z",
                },
                response_only=True,
            ),
        ],
        summary="Exchange credentials for an API token",
        description=(
            "Each sign-in issues a new token (one per device or integration, named by `name`), "
            "shown this once: only its digest is stored. It expires `TOKEN_TTL` after its last use."
        ),
    )
    def post(self, request):
        data = validated(TokenInput, request.data)
        try:
            issued = services.issue_token(**data)
        except services.InvalidCredentials as exc:
            raise AuthenticationFailed(str(exc)) from exc
        return Response(
            TokenOutput({"token": issued.key, "id": issued.token.pk, "expires_at": issued.token.expires_at}).data
        )


class LogoutApi(APIView):
    @extend_schema(
        request=NoInput,
        responses={204: None},
        summary="Revoke the caller's API token",
        description="Only the token making the call: the caller's other devices stay signed in.",
    )
    def post(self, request):
        validated(NoInput, request.data)
        if isinstance(request.auth, ApiToken):
            services.revoke_token(request.auth)
        else:  # signed in to the browsable admin session instead
            logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(summary="The caller's API tokens (never their keys), newest first")
class TokenListApi(ListAPIView):
    serializer_class = ApiTokenOutput

    def get_queryset(self):
        user = self.request.user
        # Without an account only for the schema generator (swagger_fake_view): the
        # permissions turn anonymous callers away first.
        if getattr(self, "swagger_fake_view", False) or not isinstance(user, User):
            return ApiToken.objects.none()
        return selectors.tokens_of(user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "current": self.request.auth}


class TokenDetailApi(APIView):
    @extend_schema(
        request=NoInput,
        responses={204: None},
        summary="Revoke one of the caller's API tokens",
        description="Signs that device or integration out; 404 if the token is not the caller's.",
    )
    def delete(self, request, token_id: int):
        token = selectors.token_of(request.user, token_id)
        if token is None:
            raise NotFound("No such token.")
        validated(NoInput, request.data)
        services.revoke_token(token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses={200: MeOutput}, summary="The caller's account and points balance")
    def get(self, request):
        customer = customer_selectors.customer_of(request.user)
        balance = customer_selectors.points_balance(customer) if customer else 0
        return Response(
            MeOutput({"username": request.user.username, "email": request.user.email, "points_balance": balance}).data
        )
