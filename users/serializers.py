from rest_framework import serializers

from project.api import InputSerializer

from .models import ApiToken, User


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
    name = serializers.CharField(
        max_length=100,
        required=False,
        default="",
        allow_blank=True,
        help_text="The device or integration signing in, e.g. 'Ada's phone'.",
    )


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="The API key (`ofk_…`): shown this once, never again.")
    id = serializers.IntegerField(help_text="The token's id in `GET /api/v1/auth/tokens`.")
    expires_at = serializers.DateTimeField(help_text="Unless used before then: each use extends it.")


class ApiTokenOutput(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="Whether this is the token making the call.")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "created_at", "last_used_at", "expires_at", "current"]

    def get_current(self, token: ApiToken) -> bool:
        return token.pk == getattr(self.context.get("current"), "pk", None)


class MeOutput(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField()
    points_balance = serializers.IntegerField()
