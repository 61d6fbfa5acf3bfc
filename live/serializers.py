from rest_framework import serializers


class StreamTokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Opens this order's stream only: `GET .../stream?token=<token>`.")
    expires_at = serializers.DateTimeField(help_text="After this the token opens nothing (an open stream goes on).")
