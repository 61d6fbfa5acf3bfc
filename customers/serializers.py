from rest_framework import serializers

from .models import PointsEntry


class PointsEntryOutput(serializers.ModelSerializer):
    order = serializers.PrimaryKeyRelatedField(source="order_id", read_only=True, allow_null=True)

    class Meta:
        model = PointsEntry
        fields = ["amount", "reason", "order", "created_at"]
