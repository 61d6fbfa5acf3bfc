from rest_framework import serializers

from project.api import InputSerializer

from .models import User


class RegisterInput(InputSerializer):
    # Not trimmed: the schema's pattern and format say what is taken, and a space is not.
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150, trim_whitespace=False)
    email = serializers.EmailField(max_length=254, trim_whitespace=False)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})


class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email"]


class TokenInput(InputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class MeOutput(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField()
    points_balance = serializers.IntegerField()
