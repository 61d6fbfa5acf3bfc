from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from project.api import NoInput, validated
from project.errors import invalid

from . import selectors, services
from .models import Attempt
from .serializers import (
    AttemptOutput,
    EndpointCreatedOutput,
    EndpointCreateInput,
    EndpointOutput,
    EndpointUpdateInput,
    SecretOutput,
)


def _endpoint(endpoint_id: int):
    endpoint = selectors.endpoint_get(endpoint_id)
    if endpoint is None:
        raise NotFound("No webhook endpoint with this id.")
    return endpoint


def _apply(call, **kwargs):
    try:
        return call(**kwargs)
    except services.InvalidEndpoint as exc:
        raise invalid(exc.field, str(exc)) from exc


@extend_schema_view(get=extend_schema(summary="The webhook endpoints (staff)"))
class WebhookListApi(ListAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = EndpointOutput

    def get_queryset(self):
        return selectors.endpoint_list()

    @extend_schema(
        request=EndpointCreateInput,
        responses={201: EndpointCreatedOutput},
        examples=[
            OpenApiExample(
                "Paid orders to the warehouse",
                value={
                    "url": "https://warehouse.example.com/hooks/orderflow",
                    "event_types": ["order.paid", "order.cancelled"],
                    "description": "warehouse",
                },
                request_only=True,
            )
        ],
        summary="Register a webhook endpoint (staff); its secret is shown in this answer only",
    )
    def post(self, request):
        data = validated(EndpointCreateInput, request.data)
        endpoint = _apply(services.register_endpoint, **data)
        return Response(EndpointCreatedOutput(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(GenericAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = EndpointOutput

    @extend_schema(summary="One webhook endpoint (staff)")
    def get(self, request, webhook_id: int):
        return Response(EndpointOutput(_endpoint(webhook_id)).data)

    @extend_schema(
        request=EndpointUpdateInput, responses={200: EndpointOutput}, summary="Change a webhook endpoint (staff)"
    )
    def patch(self, request, webhook_id: int):
        endpoint = _endpoint(webhook_id)
        data = validated(EndpointUpdateInput, request.data)
        endpoint = _apply(services.update_endpoint, endpoint=endpoint, **data)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(
        request=NoInput, responses={204: None}, summary="Delete a webhook endpoint and its delivery log (staff)"
    )
    def delete(self, request, webhook_id: int):
        endpoint = _endpoint(webhook_id)
        validated(NoInput, request.data)
        services.delete_endpoint(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(GenericAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = SecretOutput

    @extend_schema(
        request=NoInput,
        responses={200: SecretOutput},
        summary="A new secret for a webhook endpoint (staff); the old one keeps signing for WEBHOOK_SECRET_OVERLAP",
    )
    def post(self, request, webhook_id: int):
        endpoint = _endpoint(webhook_id)
        validated(NoInput, request.data)
        endpoint = services.rotate_secret(endpoint=endpoint)
        return Response(SecretOutput(endpoint).data)


@extend_schema_view(get=extend_schema(summary="A webhook endpoint's delivery attempts, newest first (staff)"))
class WebhookDeliveriesApi(ListAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = AttemptOutput
    queryset = Attempt.objects.none()  # for the schema; the endpoint's own below

    def get_queryset(self):
        return selectors.attempts_of(_endpoint(self.kwargs["webhook_id"]))
