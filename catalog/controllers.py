from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from project.api import validated
from project.errors import invalid

from . import selectors, services
from .serializers import ProductCreateInput, ProductOutput, ProductUpdateInput


class ReadAnyoneWriteStaff(BasePermission):
    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_staff)


@extend_schema_view(get=extend_schema(summary="List the catalog (no login needed)"))
class ProductListApi(ListAPIView):
    permission_classes = [ReadAnyoneWriteStaff]
    serializer_class = ProductOutput

    def get_queryset(self):
        return selectors.product_list()

    @extend_schema(
        request=ProductCreateInput,
        responses={201: ProductOutput},
        examples=[
            OpenApiExample(
                "A cap",
                value={"sku": "CAP-02", "name": "Cap", "price": "15.00", "currency": "EUR", "stock": 30},
                request_only=True,
            ),
            OpenApiExample(
                "The cap in the catalog",
                value={"id": 6, "sku": "CAP-02", "name": "Cap", "price": "15.00", "currency": "EUR", "stock": 30},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        summary="Add a product (staff)",
    )
    def post(self, request):
        data = validated(ProductCreateInput, request.data)
        try:
            product = services.create_product(**data)
        except services.ProductExists as exc:
            raise invalid("sku", str(exc)) from exc
        return Response(ProductOutput(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(GenericAPIView):
    permission_classes = [ReadAnyoneWriteStaff]
    serializer_class = ProductOutput

    def _product(self, sku: str, *, include_inactive: bool = False):
        product = selectors.product_get(sku, include_inactive=include_inactive)
        if product is None:
            raise NotFound("No product with this SKU.")
        return product

    @extend_schema(summary="One product (staff see inactive ones too)")
    def get(self, request, sku: str):
        # Staff read what they can change: a product made or set inactive is still theirs.
        return Response(ProductOutput(self._product(sku, include_inactive=request.user.is_staff)).data)

    @extend_schema(request=ProductUpdateInput, responses={200: ProductOutput}, summary="Change a product (staff)")
    def patch(self, request, sku: str):
        product = self._product(sku, include_inactive=True)
        data = validated(ProductUpdateInput, request.data)
        product = services.update_product(product=product, **data)
        return Response(ProductOutput(product).data)
