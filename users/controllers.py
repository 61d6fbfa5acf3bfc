from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import selectors as customer_selectors
from project.api import NoInput, validated
from project.errors import invalid

from . import services
from .serializers import MeOutput, RegisterInput, TokenInput, TokenOutput, UserOutput


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_scope = "auth"

    @extend_schema(request=RegisterInput, responses={201: UserOutput}, summary="Create a shopper account")
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

    @extend_schema(request=TokenInput, responses={200: TokenOutput}, summary="Exchange credentials for an API token")
    def post(self, request):
        data = validated(TokenInput, request.data)
        try:
            token = services.issue_token(**data)
        except services.InvalidCredentials as exc:
            raise AuthenticationFailed(str(exc)) from exc
        return Response({"token": token})


class LogoutApi(APIView):
    @extend_schema(request=None, responses={204: None}, summary="Revoke the caller's API token")
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
