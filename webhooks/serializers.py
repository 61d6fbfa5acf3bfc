from rest_framework import serializers

from events.public import PUBLIC_EVENT_TYPES
from project.api import InputSerializer

from .models import Attempt, Endpoint

PUBLIC_TYPES = sorted(PUBLIC_EVENT_TYPES)


def _event_types(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(
            choices=PUBLIC_TYPES,
            error_messages={
                "invalid_choice": '"{input}" is not a public event type; the public types are: '
                + ", ".join(PUBLIC_TYPES)
                + "."
            },
        ),
        allow_empty=False,
        max_length=len(PUBLIC_TYPES),
        **kwargs,
    )


class EndpointOutput(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=PUBLIC_TYPES))

    class Meta:
        model = Endpoint
        fields = ["id", "url", "event_types", "description", "enabled", "disabled_reason", "created_at", "updated_at"]


class EndpointCreatedOutput(EndpointOutput):
    secret = serializers.CharField(help_text="whsec_...: shown in this answer only.")

    class Meta(EndpointOutput.Meta):
        fields = [*EndpointOutput.Meta.fields, "secret"]


class SecretOutput(serializers.Serializer):
    secret = serializers.CharField(help_text="The new whsec_... secret; the previous one signs too for a while.")
    previous_secret_until = serializers.DateTimeField()


class EndpointCreateInput(InputSerializer):
    url = serializers.CharField(max_length=2000, help_text="https://... (a public address)")
    event_types = _event_types()
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)


class EndpointUpdateInput(InputSerializer):
    url = serializers.CharField(max_length=2000, required=False)
    event_types = _event_types(required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class AttemptOutput(serializers.ModelSerializer):
    delivery = serializers.IntegerField(source="delivery_id")
    event_id = serializers.UUIDField(source="delivery.event.key", help_text="The webhook-id sent.")
    event_type = serializers.CharField(source="delivery.event_type")
    attempt = serializers.IntegerField(source="number")

    class Meta:
        model = Attempt
        fields = [
            "id",
            "delivery",
            "event_id",
            "event_type",
            "attempt",
            "outcome",
            "status_code",
            "duration_ms",
            "error",
            "response_excerpt",
            "created_at",
        ]
