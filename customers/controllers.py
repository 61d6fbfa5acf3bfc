from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView

from . import selectors
from .serializers import PointsEntryOutput


@extend_schema(summary="The caller's loyalty points ledger, newest first")
class MyPointsApi(ListAPIView):
    serializer_class = PointsEntryOutput

    def get_queryset(self):
        customer = selectors.customer_of(self.request.user)
        return selectors.points_ledger(customer)
