from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import selectors as customer_selectors
from project import throttles
from project.api import NoInput, validated
from project.errors import invalid

from . import services
from .serializers import MeOutput, RegisterInput, TokenInput, TokenOutput, UserOutput


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
                "Ada's token", value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"}, response_only=True
            ),
        ],
        summary="Exchange credentials for an API token",
    )
    def post(self, request):
        data = validated(TokenInput, request.data)
        try:
            token = services.issue_token(**data)
        except services.InvalidCredentials as exc:
            raise AuthenticationFailed(str(exc)) from exc
        return Response({"token": token})


class LogoutApi(APIView):
    @extend_schema(request=NoInput, responses={204: None}, summary="Revoke the caller's API token")
    def post(self, request):
        validated(NoInput, request.data)
        services.revoke_token(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses={200: MeOutput}, summary="The caller's account and points balance")
    def get(self, request):
        customer = customer_selectors.customer_of(request.user)
        balance = customer_selectors.points_balance(customer) if customer else 0
        return Response(
            MeOutput({"username": request.user.username, "email": request.user.email, "points_balance": balance}).data
        )
