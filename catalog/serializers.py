from rest_framework import serializers

from project.api import InputSerializer

from .models import Product, sku_validator


class ProductOutput(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price", "currency", "stock"]


class ProductCreateInput(InputSerializer):
    sku = serializers.CharField(max_length=64, validators=[sku_validator])
    name = serializers.CharField(max_length=200)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", required=False)
    stock = serializers.IntegerField(min_value=0, max_value=2_147_483_647, default=0)
    is_active = serializers.BooleanField(default=True)


class ProductUpdateInput(InputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", required=False)
    stock = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    is_active = serializers.BooleanField(required=False)
