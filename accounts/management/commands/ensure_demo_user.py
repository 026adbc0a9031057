"""Create the demo account on first run (DEBUG only) and say how to sign in with it."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = (
        "With DEBUG on: create a demo user (staff, so it can use /admin/) if none exists, keep its credentials "
        "in var/demo-credentials.txt and show them on a terminal. With DEBUG off it does nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)

    def handle(self, *args, email: str, **options) -> None:
        User = get_user_model()
        if not settings.DEBUG:
            # A staff account with a password kept in a file has no place on a server.
            self.stderr.write("DEBUG is off: no demo user (create staff with `manage.py createsuperuser`).")
            if User.objects.filter(email__iexact=email).exists():
                self.stderr.write(f"Warning: {email} exists and is staff; deactivate it outside development.")
            return
        credentials = settings.VAR_DIR / "demo-credentials.txt"
        if User.objects.filter(email__iexact=email).exists():
            if credentials.exists():
                self._show("Demo user", credentials.read_text().strip(), credentials)
            else:
                self.stdout.write(f"Demo user {email} exists (its password was shown when it was created).")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(email=email, password=password, name="Demo")
        credentials.write_text(f"{email} / {password}\n")
        credentials.chmod(0o600)
        self._show("Created demo user", f"{email} / {password}", credentials, style=self.style.SUCCESS)

    def _show(self, what: str, email_and_password: str, credentials: Path, style=None) -> None:
        # The password goes to a terminal only: output that is piped or captured ends up in logs.
        if self.stdout.isatty():
            line = f"{what}: {email_and_password}"
        else:
            line = f"{what}: {email_and_password.split(' / ')[0]} (password in {credentials})"
        self.stdout.write(style(line) if style else line)
