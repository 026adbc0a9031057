"""Account pages: sign-up, log-in, log-out, settings (profile, password, API keys) and statistics.

Each page validates its form, calls the same service as the API
(``accounts.services``, ``accounts.selectors``) and renders a template; every
form works without JavaScript.
"""

from __future__ import annotations

import logging
import math

from django.contrib import admin, messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.api.throttles import AccountRateThrottle, AuthRateThrottle
from accounts.models import ApiKey
from accounts.profile import profile_for_user
from accounts.web.forms import (
    ApiKeyForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    SignupForm,
)
from imagegen.errors import DomainError, NotFound
from imagegen.pages import add_service_error, safe_next

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"
logger = logging.getLogger(__name__)


def _too_many_attempts(request: HttpRequest, *, sign_in: bool = False) -> str | None:
    """The API's limits on password-handling requests, applied to these pages too.

    Per IP always; per account too for a sign-in (the form's ``email``, or the
    admin's ``username``). Returns the message to show when a limit is
    reached, else None (and the attempt is counted).
    """
    throttles = [(AuthRateThrottle(), "from your address")]
    if sign_in:
        throttles.append((AccountRateThrottle(), "for this account"))
    for throttle, whose in throttles:
        if not throttle.allow_request(request, None):
            wait = throttle.wait() or 1
            return f"Too many attempts {whose}; try again in {math.ceil(wait)} seconds."
    return None


@require_http_methods(["GET", "POST"])
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's sign-in page, throttled like the site's (per IP and per account); failures are logged."""
    email = request.POST.get("username", "")[:150] if request.method == "POST" else ""
    ip = AuthRateThrottle().get_ident(request)
    if request.method == "POST" and (limited := _too_many_attempts(request, sign_in=True)):
        logger.warning("admin sign-in throttled", extra={"email": email, "client_ip": ip})
        # The credentials are not checked: the answer must not tell a right guess from a wrong one.
        return render(request, "admin/login_throttled.html", {"message": limited}, status=429)
    response = admin.site.login(request)
    if request.method == "POST" and not (request.user.is_authenticated and request.user.is_staff):
        logger.warning("admin sign-in failed", extra={"email": email, "client_ip": ip})
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("gallery")
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if limited := _too_many_attempts(request):
            form.add_error(None, limited)
            status = 429
        else:
            try:
                user = services.user_signup(
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                login(request, user, backend=AUTH_BACKEND)
                messages.success(request, "Welcome! Your account is ready: create your first image.")
                return redirect("create")
    return render(request, "accounts/signup.html", {"form": form}, status=_status(request, form, status))


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return HttpResponseRedirect(safe_next(request, reverse("gallery")))
    form = LoginForm(request.POST or None, request=request)
    context = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
    if request.method == "POST":
        if limited := _too_many_attempts(request, sign_in=True):
            # The credentials are not even checked: the answer must not tell a right guess from a wrong one.
            context.update(form=LoginForm(initial={"email": request.POST.get("email", "")}), form_error=limited)
            return render(request, "accounts/login.html", context, status=429)
        if form.is_valid():
            login(request, form.user, backend=AUTH_BACKEND)
            return HttpResponseRedirect(safe_next(request, reverse("gallery")))
    return render(request, "accounts/login.html", context, status=_status(request, form, 200))


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """GET asks to confirm (a link must not sign anyone out); POST, with its CSRF token, signs out."""
    if request.method == "POST":
        logout(request)
        messages.success(request, "You are signed out.")
        return redirect("home")
    return render(request, "accounts/logout.html")


def _status(request: HttpRequest, form: object, default: int) -> int:
    # A re-shown form with errors answers 400, so scripts and tests see it failed.
    if default != 200:
        return default
    return 400 if request.method == "POST" and getattr(form, "errors", None) else 200


def _settings_context(request: HttpRequest, **forms: object) -> dict:
    context = {
        "profile_form": ProfileForm(initial={"name": request.user.name}),
        "password_form": PasswordChangeForm(),
        "api_key_form": ApiKeyForm(),
        "api_keys": ApiKey.objects.filter(user=request.user, revoked_at__isnull=True),
        "profile": profile_for_user(user=request.user),
    }
    context.update(forms)
    return context


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request: HttpRequest) -> HttpResponse:
    """The settings page; each of its forms posts here with an ``action`` saying which it is."""
    if request.method == "GET":
        return render(request, "accounts/settings.html", _settings_context(request))
    action = request.POST.get("action")
    if action == "profile":
        return _save_profile(request)
    if action == "password":
        return _change_password(request)
    if action == "create_key":
        return _create_api_key(request)
    messages.error(request, "Unknown action.")
    return redirect("settings")


def _save_profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            services.user_update(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Profile saved.")
            return redirect("settings")
    return render(request, "accounts/settings.html", _settings_context(request, profile_form=form), status=400)


def _change_password(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST)
    status = 400
    if limited := _too_many_attempts(request):
        form.is_valid()
        form.add_error(None, limited)
        status = 429
    elif form.is_valid():
        try:
            change = services.user_change_password(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
                revoke_api_keys=form.cleaned_data["revoke_api_keys"],
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            # This browser stays signed in; every other session and refresh token ends.
            update_session_auth_hash(request, request.user)
            messages.success(request, change.message(session_kept=True))
            return redirect("settings")
    return render(request, "accounts/settings.html", _settings_context(request, password_form=form), status=status)


def _create_api_key(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            key, raw_key = services.api_key_create(user=request.user, name=form.cleaned_data["name"])
        except (ValidationError, DomainError) as exc:
            add_service_error(form, exc)
        else:
            # Shown in this response only: it is never stored, not even in the session.
            context = _settings_context(request, new_key=key, new_raw_key=raw_key)
            response = render(request, "accounts/settings.html", context, status=201)
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "accounts/settings.html", _settings_context(request, api_key_form=form), status=400)


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    try:
        services.api_key_revoke(user=request.user, key_id=key_id)
    except NotFound:
        messages.error(request, "That API key does not exist or was already revoked.")
    else:
        messages.success(request, "API key revoked: it no longer works.")
    return redirect("settings")
