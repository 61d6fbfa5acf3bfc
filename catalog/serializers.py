from rest_framework import serializers

from project.api import InputSerializer, MoneyInput

from .models import CURRENCY_PATTERN, Product, sku_validator


class ProductOutput(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price", "currency", "stock"]


class ProductCreateInput(InputSerializer):
    # Not trimmed, like the currency: the schema's pattern says what is taken, and a space is not.
    sku = serializers.CharField(max_length=64, validators=[sku_validator], trim_whitespace=False)
    name = serializers.CharField(max_length=200)
    price = MoneyInput()
    currency = serializers.RegexField(CURRENCY_PATTERN, required=False, trim_whitespace=False)
    stock = serializers.IntegerField(min_value=0, max_value=2_147_483_647, default=0)
    is_active = serializers.BooleanField(default=True)


class ProductUpdateInput(InputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    price = MoneyInput(required=False)
    currency = serializers.RegexField(CURRENCY_PATTERN, required=False, trim_whitespace=False)
    stock = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    is_active = serializers.BooleanField(required=False)
