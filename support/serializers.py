from typing import TYPE_CHECKING

from rest_framework import serializers

from project.api import InputSerializer

from .models import Question

if TYPE_CHECKING:
    from orders.selectors import Order

MAX_QUESTION = 2000


class QuestionInput(InputSerializer):
    question = serializers.CharField(min_length=1, max_length=MAX_QUESTION, trim_whitespace=True)
    order = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,  # an id the database can hold: a bigger one is bad input, not "no such order"
        help_text="One of your orders, if the question is about it.",
    )


class QuestionOutput(serializers.ModelSerializer):
    order: "serializers.PrimaryKeyRelatedField[Order]" = serializers.PrimaryKeyRelatedField(
        source="order_id", read_only=True, allow_null=True
    )
    answer = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = ["id", "status", "question", "order", "answer", "created_at", "answered_at"]

    def get_answer(self, question) -> str | None:
        """Set when answered; null until then."""
        return question.answer if question.status == Question.Status.ANSWERED else None
