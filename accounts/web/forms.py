"""Forms of the account pages (sign-up, log-in, settings).

They only shape input for the browser: the rules (password strength, unique
email, credentials) live in ``accounts.services``, whose errors
``imagegen.pages.add_service_error`` puts next to the matching field.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts import services
from accounts.api.serializers import PASSWORD_MAX_LENGTH
from accounts.models import User
from imagegen.errors import Unauthenticated


def _password_input(autocomplete: str) -> forms.PasswordInput:
    return forms.PasswordInput(attrs={"autocomplete": autocomplete})


class SignupForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "name"}), label="Name"
    )
    password = forms.CharField(
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        widget=_password_input("new-password"),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # The configured validators describe themselves: the page never restates their rules.
        self.fields["password"].help_text = " ".join(password_validators_help_texts())


class LoginForm(forms.Form):
    """Email and password, checked by ``services.user_authenticate`` (one message whatever was wrong)."""

    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(max_length=PASSWORD_MAX_LENGTH, strip=False, widget=_password_input("current-password"))

    def __init__(self, *args: object, request: HttpRequest | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.user: User | None = None

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.user = services.user_authenticate(request=self.request, email=data["email"], password=data["password"])
        except Unauthenticated as exc:
            raise ValidationError(exc.message, code="invalid_login") from None
        return data


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "name"}))


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        max_length=PASSWORD_MAX_LENGTH, strip=False, widget=_password_input("current-password")
    )
    new_password = forms.CharField(
        max_length=PASSWORD_MAX_LENGTH, strip=False, widget=_password_input("new-password"), label="New password"
    )
    new_password_again = forms.CharField(
        max_length=PASSWORD_MAX_LENGTH, strip=False, widget=_password_input("new-password"), label="New password again"
    )
    # Ticked unless the user unticks it; an unticked box is simply absent from the POST.
    revoke_api_keys = forms.BooleanField(
        required=False,
        initial=True,
        label="Also revoke my API keys",
        help_text="Apps and scripts using them stop working; untick to keep them.",
    )

    def clean_new_password_again(self) -> str:
        # A typing check of this page only; the password rules are the service's.
        again = self.cleaned_data["new_password_again"]
        if "new_password" in self.cleaned_data and again != self.cleaned_data["new_password"]:
            raise ValidationError("The two new passwords differ.", code="password_mismatch")
        return again


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Key name",
        help_text="Say where the key is used, e.g. “build server”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
