from django.contrib import admin
from django.urls import include, path, re_path, register_converter
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from catalog.controllers import ProductDetailApi, ProductListApi
from customers.controllers import MyPointsApi
from events.controllers import asyncapi_document
from live.controllers import OrderStreamApi, OrderStreamTokenApi
from notifications.controllers import NotificationListApi, NotificationReadApi
from orders.controllers import OrderCancelApi, OrderDetailApi, OrderEventsApi, OrderListApi
from support.controllers import QuestionDetailApi, QuestionListApi
from users.controllers import LogoutApi, MeApi, RegisterApi, TokenApi, TokenDetailApi, TokenListApi
from webhooks.controllers import WebhookDeliveriesApi, WebhookDetailApi, WebhookListApi, WebhookRotateSecretApi

from . import errors, ops
from .converters import SkuConverter

register_converter(SkuConverter, "sku")

api_v1 = [
    path("auth/register", RegisterApi.as_view(), name="register"),
    path("auth/token", TokenApi.as_view(), name="token"),
    path("auth/logout", LogoutApi.as_view(), name="logout"),
    path("auth/tokens", TokenListApi.as_view(), name="token-list"),
    path("auth/tokens/<int:token_id>", TokenDetailApi.as_view(), name="token-detail"),
    path("me", MeApi.as_view(), name="me"),
    path("me/points", MyPointsApi.as_view(), name="my-points"),
    path("products", ProductListApi.as_view(), name="product-list"),
    path("products/<sku:sku>", ProductDetailApi.as_view(), name="product-detail"),
    path("orders", OrderListApi.as_view(), name="order-list"),
    path("orders/<int:order_id>", OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:order_id>/cancel", OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<int:order_id>/events", OrderEventsApi.as_view(), name="order-events"),
    path("orders/<int:order_id>/stream-token", OrderStreamTokenApi.as_view(), name="order-stream-token"),
    path("orders/<int:order_id>/stream", OrderStreamApi.as_view(), name="order-stream"),
    path("notifications", NotificationListApi.as_view(), name="notification-list"),
    path("notifications/<int:notification_id>/read", NotificationReadApi.as_view(), name="notification-read"),
    path("support/questions", QuestionListApi.as_view(), name="question-list"),
    path("support/questions/<int:question_id>", QuestionDetailApi.as_view(), name="question-detail"),
    path("webhooks", WebhookListApi.as_view(), name="webhook-list"),
    path("webhooks/<int:webhook_id>", WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<int:webhook_id>/rotate-secret", WebhookRotateSecretApi.as_view(), name="webhook-rotate-secret"),
    path("webhooks/<int:webhook_id>/deliveries", WebhookDeliveriesApi.as_view(), name="webhook-deliveries"),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/events/asyncapi.json", asyncapi_document, name="asyncapi"),
    path("admin/", admin.site.urls),
    # The live order demo: a static page and its script, no build step (live/).
    path("demo/", TemplateView.as_view(template_name="live/demo.html"), name="live-demo"),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    # Last: any other /api/ path answers the API's JSON 404, with DEBUG on as well.
    re_path(r"^api/(?P<path>.*)$", errors.unmatched_api_path),
]

handler400 = "project.errors.bad_request"
handler403 = "project.errors.permission_denied"
handler404 = "project.errors.not_found"
handler500 = "project.errors.server_error"
