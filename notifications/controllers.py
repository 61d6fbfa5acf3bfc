from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import selectors as customer_selectors
from project.api import NoInput, validated

from . import selectors, services
from .serializers import NotificationOutput


@extend_schema(summary="The caller's in-app notifications, newest first")
class NotificationListApi(ListAPIView):
    serializer_class = NotificationOutput

    def get_queryset(self):
        customer = customer_selectors.customer_of(self.request.user)
        return selectors.notifications_of(customer)


class NotificationReadApi(APIView):
    @extend_schema(request=NoInput, responses={200: NotificationOutput}, summary="Mark a notification read")
    def post(self, request, notification_id: int):
        customer = customer_selectors.customer_of(request.user)
        notification = selectors.notification_of(customer, notification_id)
        if notification is None:
            raise NotFound("No such notification.")
        validated(NoInput, request.data)
        return Response(NotificationOutput(services.mark_read(notification=notification)).data)
