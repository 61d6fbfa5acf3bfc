from rest_framework import serializers

from .models import Notification


class NotificationOutput(serializers.ModelSerializer):
    order = serializers.PrimaryKeyRelatedField(source="order_id", read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "order", "created_at", "read_at"]
