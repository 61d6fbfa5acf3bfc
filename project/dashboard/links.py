"""Admin changelist URLs, already filtered to what a figure counts."""

from urllib.parse import urlencode

from django.urls import reverse


def changelist(model: str, **filters) -> str:
    """``model`` as "app_label.modelname"; ``filters`` as the admin's query string."""
    app_label, model_name = model.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def runs(**filters) -> str:
    return changelist("events.handlerrun", **filters)


def events(**filters) -> str:
    return changelist("events.event", **filters)


def orders(**filters) -> str:
    return changelist("orders.order", **filters)
