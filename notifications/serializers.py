from typing import TYPE_CHECKING

from rest_framework import serializers

from .models import Notification

if TYPE_CHECKING:
    from orders.selectors import Order


class NotificationOutput(serializers.ModelSerializer):
    order: "serializers.PrimaryKeyRelatedField[Order]" = serializers.PrimaryKeyRelatedField(
        source="order_id", read_only=True, allow_null=True
    )

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "order", "created_at", "read_at"]
