from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from . import selectors
from .models import User

# The site as a whole: set here, where staff accounts live.
admin.site.site_header = "Orderflow"
admin.site.site_title = "Orderflow admin"
admin.site.index_title = "Run the shop"

EMAIL_TAKEN = "A user with that email address already exists."


class StaffUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"]
        # The database enforces this too; checking first gives a message that says why.
        if selectors.email_taken(email):
            raise forms.ValidationError(EMAIL_TAKEN)
        return email


class StaffUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
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
