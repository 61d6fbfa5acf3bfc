from django.db.models import QuerySet

from .models import Notification


def notifications_of(customer) -> QuerySet[Notification]:
    if customer is None:
        return Notification.objects.none()
    return Notification.objects.filter(customer=customer).order_by("-created_at", "-id")


def notification_of(customer, notification_id: int) -> Notification | None:
    return notifications_of(customer).filter(pk=notification_id).first()
