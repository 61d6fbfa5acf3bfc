from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils import timezone

from . import selectors, services
from .models import ApiToken, User

# The site as a whole: set here, where staff accounts live.
admin.site.site_header = "Orderflow"
admin.site.site_title = "Orderflow admin"
admin.site.index_title = "Run the shop"

EMAIL_TAKEN = "A user with that email address already exists."


class StaffUserCreationForm(AdminUserCreationForm):
    # The ignores: django-stubs do not declare the forms' Meta, which Django has.
    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"]
        # The database enforces this too; checking first gives a message that says why.
        if selectors.email_taken(email):
            raise forms.ValidationError(EMAIL_TAKEN)
        return email


class StaffUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):  # type: ignore[name-defined]
        model = User

    def clean_email(self):
        email = self.cleaned_data["email"]
        if selectors.email_taken(email, other_than=self.instance):
            raise forms.ValidationError(EMAIL_TAKEN)
        return email


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's own user admin, with the email asked for when an account is added.

    Shoppers register through the API (which also creates their customer profile);
    staff accounts are made here or with ``createsuperuser``.
    """

    form = StaffUserChangeForm
    add_form = StaffUserCreationForm
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active", "date_joined")


class TokenState(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Who is signed in where. Keys are never shown (only digests are stored); staff
    revoke a token with the action or by deleting it, which signs that device out."""

    list_display = ("user", "name", "created_at", "last_used_at", "expires_at", "active")
    list_filter = (TokenState, "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "name")
    ordering = ("-created_at",)
    readonly_fields = ("user", "name", "created_at", "last_used_at", "expires_at")
    fields = readonly_fields
    actions = ["revoke"]

    @admin.display(boolean=True, description="active")
    def active(self, token: ApiToken) -> bool:
        return token.expires_at > timezone.now()

    @admin.action(description="Revoke the selected tokens (sign those devices out)", permissions=["delete"])
    def revoke(self, request, queryset):
        tokens = list(queryset)
        for token in tokens:
            services.revoke_token(token)
        self.message_user(request, f"Revoked {len(tokens)} token(s).")

    def has_add_permission(self, request):
        return False  # a token is issued by signing in, and its key shown only to who signed in

    def has_change_permission(self, request, obj=None):
        return False
