from typing import TYPE_CHECKING

from rest_framework import serializers

from .models import PointsEntry

if TYPE_CHECKING:
    from orders.selectors import Order


class PointsEntryOutput(serializers.ModelSerializer):
    order: "serializers.PrimaryKeyRelatedField[Order]" = serializers.PrimaryKeyRelatedField(
        source="order_id", read_only=True, allow_null=True
    )

    class Meta:
        model = PointsEntry
        fields = ["amount", "reason", "order", "created_at"]
