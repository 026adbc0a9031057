"""Create an API key for a user and print it (the only time it is shown)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.services import api_key_create
from imagegen.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for the user with this email and print the key on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="cli", help="A label to tell the key apart in lists (default: cli).")

    def handle(self, *args: object, email: str, name: str, **options: object) -> None:
        user = User.objects.filter(email__iexact=User.objects.normalize_email(email)).first()
        if user is None:
            raise CommandError(f"No user with email {email!r}.")
        if not user.is_active:
            raise CommandError(f"User {user.email} is inactive; a key would not work.")
        try:
            key, raw_key = api_key_create(user=user, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"API key {key.prefix}… ({key.name}) for {user.email}; it is shown only now:")
        self.stdout.write(raw_key)
