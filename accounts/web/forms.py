"""Forms of the account pages (sign-up, log-in, settings).

They only shape input for the browser: the rules (password strength, unique
email, credentials) live in ``accounts.services``, whose errors
``add_service_error`` puts next to the matching field.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from rest_framework.exceptions import APIException, AuthenticationFailed

from accounts import services
from accounts.api.serializers import PASSWORD_MAX_LENGTH
from accounts.models import User


def add_service_error(form: forms.Form, exc: Exception, *, aliases: dict[str, str] | None = None) -> None:
    """Show a service's error on ``form``: next to its field when the form has one, above the form otherwise.

    Understands Django's ``ValidationError`` (keyed by field or not), DRF
    validation errors (``serializer.errors``-like dicts, as ``dict``) and
    ``ApiError``/``APIException`` (one message, maybe a ``field``). ``aliases``
    maps a service's field name to the form's (``reference_images.0`` style
    paths match on their first part).
    """
    aliases = aliases or {}

    def target(name: str | None) -> str | None:
        if not name:
            return None
        name = aliases.get(name, name)
        head = name.split(".", 1)[0]
        head = aliases.get(head, head)
        return head if head in form.fields else None

    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(target(name), errors)
    elif isinstance(exc, ValidationError):
        form.add_error(None, exc)
    elif isinstance(exc, dict):
        for name, messages in exc.items():
            for message in _flatten_messages(messages):
                form.add_error(target(None if name == "non_field_errors" else name), message)
    elif isinstance(exc, APIException):
        message = getattr(exc, "message", None) or _first_message(exc.detail)
        form.add_error(target(getattr(exc, "field", None)), message)
    else:
        raise TypeError(f"cannot show {type(exc).__name__} on a form")


def _flatten_messages(value: object) -> list[str]:
    if isinstance(value, dict):
        return [m for item in value.values() for m in _flatten_messages(item)]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _flatten_messages(item)]
    return [str(value)]


def _first_message(detail: object) -> str:
    messages = _flatten_messages(detail)
    return messages[0] if messages else "Something went wrong."


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
        except AuthenticationFailed as exc:
            raise ValidationError(str(exc.detail), code="invalid_login") from None
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
