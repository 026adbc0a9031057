"""Create the demo account on first run and say how to sign in with it."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create a demo user (staff, so it can use /admin/) if none exists, and print its credentials."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)

    def handle(self, *args, email: str, **options) -> None:
        User = get_user_model()
        credentials = settings.VAR_DIR / "demo-credentials.txt"
        if User.objects.filter(email__iexact=email).exists():
            if credentials.exists():
                self.stdout.write(f"Demo user: {credentials.read_text().strip()}")
            else:
                self.stdout.write(f"Demo user {email} exists (its password was printed when it was created).")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(email=email, password=password, name="Demo")
        credentials.write_text(f"{email} / {password}\n")
        credentials.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(f"Created demo user: {email} / {password}"))
