from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import selectors as customer_selectors
from customers import services as customer_services
from project.api import validated

from . import selectors, services
from .serializers import QuestionInput, QuestionOutput


@extend_schema_view(get=extend_schema(summary="The caller's support questions, newest first"))
class QuestionListApi(ListAPIView):
    serializer_class = QuestionOutput
    throttle_scope = "support"  # asking (writes only: project.throttles), per customer

    def get_queryset(self):
        customer = customer_selectors.customer_of(self.request.user)
        return selectors.questions_of(customer)

    @extend_schema(
        request=QuestionInput,
        responses={
            201: QuestionOutput,
            404: OpenApiResponse(NotFound, description="The order named is not one of the caller's."),
        },
        summary="Ask the support desk a question (answered asynchronously)",
    )
    def post(self, request):
        data = validated(QuestionInput, request.data)
        customer = customer_services.get_or_create_customer(request.user)
        try:
            question = services.ask(customer=customer, question=data["question"], order_id=data.get("order"))
        except services.NoSuchOrder as exc:
            # As for GET /orders/{id}: another customer's order is no order at all.
            raise NotFound(str(exc)) from exc
        return Response(QuestionOutput(question).data, status=status.HTTP_201_CREATED)


class QuestionDetailApi(APIView):
    @extend_schema(responses={200: QuestionOutput}, summary="One of the caller's support questions")
    def get(self, request, question_id: int):
        question = selectors.question_of(customer_selectors.customer_of(request.user), question_id)
        if question is None:
            raise NotFound("No such question.")
        return Response(QuestionOutput(question).data)
