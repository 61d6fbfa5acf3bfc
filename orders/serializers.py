from django.conf import settings
from rest_framework import serializers

from project.api import InputSerializer

from .models import Order, OrderLine


class OrderItemInput(InputSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.ORDER_MAX_QUANTITY)


class OrderInput(InputSerializer):
    # The ignore: the stubs do not pass many=True's list options (max_length) on.
    items = OrderItemInput(many=True, allow_empty=False, max_length=settings.ORDER_MAX_LINES)  # type: ignore[call-arg]
    payment_token = serializers.CharField(max_length=100, default="tok_ok")

    def validate_items(self, items):
        skus = [item["sku"] for item in items]
        duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
        if duplicates:
            raise serializers.ValidationError(f"each SKU may appear on one line only: {', '.join(duplicates)}")
        return items


class OrderLineOutput(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "name", "quantity", "unit_price", "line_total"]


class OrderOutput(serializers.ModelSerializer):
    items = OrderLineOutput(source="lines", many=True, read_only=True)

    class Meta:
        model = Order
        fields = ["id", "status", "total", "currency", "items", "created_at"]


class OrderEventOutput(serializers.Serializer):
    type = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    payload = serializers.DictField(source="public_payload", help_text="The event's facts; private fields left out.")
