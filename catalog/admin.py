from django import forms
from django.contrib import admin

from . import selectors, services
from .models import Product

EDITABLE = ("name", "price", "currency", "stock", "is_active")


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ("sku", *EDITABLE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "Changed" means changed from what the page showed, not from the row as it is
        # when the form comes back: an order may have taken stock meanwhile, and saving
        # a new price must not put the stale stock figure back.
        for name in EDITABLE:
            self.fields[name].show_hidden_initial = True

    def clean_sku(self):
        sku = self.cleaned_data["sku"]
        # Only asked when a product is added (the SKU is fixed afterwards). The service
        # refuses it too; asking first puts the message on the form.
        if selectors.sku_taken(sku):
            raise forms.ValidationError("A product with this SKU already exists.")
        return sku


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Products are written by ``catalog.services`` (``save_model``), like the API does.

    Products are never deleted (past orders point at them): make one inactive to take
    it off sale. The SKU is fixed once created.
    """

    form = ProductForm
    list_display = ("sku", "name", "price", "currency", "stock", "is_active", "updated_at")
    list_display_links = ("sku", "name")
    list_filter = ("is_active", "currency", ("updated_at", admin.DateFieldListFilter))
    search_fields = ("sku", "name")
    ordering = ("sku",)
    readonly_fields = ("received", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        return ("sku", *EDITABLE, "received", "created_at", "updated_at") if obj else ("sku", *EDITABLE)

    def get_readonly_fields(self, request, obj=None):
        return ("sku", "received", "created_at", "updated_at") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data if field in EDITABLE}
            if changes:
                saved = services.update_product(product=obj, **changes)
            else:
                return
        else:
            saved = services.create_product(**{field: form.cleaned_data[field] for field in ("sku", *EDITABLE)})
        # The admin goes on with ``obj`` (log entry, redirect, message): make it the saved row.
        obj.pk = saved.pk
        obj.refresh_from_db()
