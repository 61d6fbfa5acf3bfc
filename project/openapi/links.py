"""The OpenAPI links that chain operations: what a response hands to the next call (a
new order's id, a product's SKU, ...). ``add_links`` (a drf-spectacular postprocessing
hook) puts them on the responses they start from; Schemathesis's stateful phase follows
them."""

from typing import Any

# (operationId, status) → {link name: (target operationId, parameters, request body)}.
# Runtime expressions: https://spec.openapis.org/oas/v3.0.3#runtime-expressions
ORDER = {"order_id": "$response.body#/id"}
FIRST_ORDER = {"order_id": "$response.body#/results/0/id"}
PRODUCT = {"sku": "$response.body#/sku"}
FIRST_PRODUCT = {"sku": "$response.body#/results/0/sku"}
WEBHOOK = {"webhook_id": "$response.body#/id"}
FIRST_WEBHOOK = {"webhook_id": "$response.body#/results/0/id"}


def webhook_links(prefix: str, webhook: dict) -> dict:
    return {
        f"{prefix}Webhook": ("v1_webhooks_retrieve", webhook, None),
        f"Change{prefix}Webhook": ("v1_webhooks_partial_update", webhook, None),
        f"Rotate{prefix}WebhookSecret": ("v1_webhooks_rotate_secret_create", webhook, None),
        f"{prefix}WebhookDeliveries": ("v1_webhooks_deliveries_list", webhook, None),
        f"Delete{prefix}Webhook": ("v1_webhooks_destroy", webhook, None),
    }


def order_of_one(sku: str) -> dict:
    return {"items": [{"sku": sku, "quantity": 1}], "payment_token": "tok_ok"}


# A link: (target operation, its parameters, its request body), each runtime expression.
Link = tuple[str, dict[str, str] | None, dict[str, Any] | None]

LINKS: dict[tuple[str, str], dict[str, Link]] = {
    ("v1_webhooks_create", "201"): webhook_links("New", WEBHOOK),
    ("v1_webhooks_list", "200"): webhook_links("First", FIRST_WEBHOOK),
    ("v1_auth_register_create", "201"): {
        "SignIn": (
            "v1_auth_token_create",
            None,
            {"username": "$response.body#/username", "password": "$request.body#/password"},
        ),
    },
    ("v1_orders_create", "201"): {
        "GetOrder": ("v1_orders_retrieve", ORDER, None),
        "CancelOrder": ("v1_orders_cancel_create", ORDER, None),
        "OrderEvents": ("v1_orders_events_list", ORDER, None),
        "StreamToken": ("v1_orders_stream_token_create", ORDER, None),
        "AskAboutOrder": (
            "v1_support_questions_create",
            None,
            {"question": "Where is it?", "order": "$response.body#/id"},
        ),
    },
    ("v1_orders_list", "200"): {
        "GetFirstOrder": ("v1_orders_retrieve", FIRST_ORDER, None),
        "CancelFirstOrder": ("v1_orders_cancel_create", FIRST_ORDER, None),
        "FirstOrderEvents": ("v1_orders_events_list", FIRST_ORDER, None),
    },
    ("v1_orders_cancel_create", "200"): {
        "GetCancelledOrder": ("v1_orders_retrieve", ORDER, None),
        "CancelledOrderEvents": ("v1_orders_events_list", ORDER, None),
    },
    ("v1_products_create", "201"): {
        "GetProduct": ("v1_products_retrieve", PRODUCT, None),
        "ChangeProduct": ("v1_products_partial_update", PRODUCT, None),
        "OrderProduct": ("v1_orders_create", None, order_of_one("$response.body#/sku")),
    },
    ("v1_products_list", "200"): {
        "GetFirstProduct": ("v1_products_retrieve", FIRST_PRODUCT, None),
        "ChangeFirstProduct": ("v1_products_partial_update", FIRST_PRODUCT, None),
        "OrderFirstProduct": ("v1_orders_create", None, order_of_one("$response.body#/results/0/sku")),
    },
    ("v1_products_retrieve", "200"): {
        "OrderProduct": ("v1_orders_create", None, order_of_one("$response.body#/sku")),
    },
    ("v1_products_partial_update", "200"): {
        "GetChangedProduct": ("v1_products_retrieve", PRODUCT, None),
    },
    ("v1_support_questions_create", "201"): {
        "GetQuestion": ("v1_support_questions_retrieve", {"question_id": "$response.body#/id"}, None),
    },
    ("v1_support_questions_list", "200"): {
        "GetFirstQuestion": ("v1_support_questions_retrieve", {"question_id": "$response.body#/results/0/id"}, None),
    },
    ("v1_notifications_list", "200"): {
        "ReadFirstNotification": (
            "v1_notifications_read_create",
            {"notification_id": "$response.body#/results/0/id"},
            None,
        ),
    },
}


def add_links(result, generator, request, public):
    """drf-spectacular postprocessing hook: put ``LINKS`` on the responses they start
    from. A link to an operation that is not in the document is an error, so a renamed
    operation cannot silently drop out of the stateful tests; links from operations a
    partial document (a test's) does not have are left out."""
    operations = {
        op["operationId"]: op for path in result["paths"].values() for op in path.values() if "operationId" in op
    }
    for (source, status), links in LINKS.items():
        if source not in operations:
            continue
        response = operations[source]["responses"][status]
        for name, (target, parameters, body) in links.items():
            if target not in operations:
                raise KeyError(f"link {name} from {source}: no operation {target}")
            link: dict[str, object] = {"operationId": target}
            if parameters:
                link["parameters"] = parameters
            if body:
                link["requestBody"] = body
            response.setdefault("links", {})[name] = link
    return result
