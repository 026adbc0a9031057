"""Every model change has its migration committed."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # --check exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_the_images_table_can_be_rebuilt_by_a_later_migration():
    # SQLite alters a column by rebuilding the table with every index the model declares; the
    # PostgreSQL-only search index (migration 0008) must not be one of them, or SQLite fails to build it.
    from django.db import connection, models

    from images.models import Image

    old = Image._meta.get_field("title")
    new = models.CharField(max_length=old.max_length + 1, blank=True)
    new.set_attributes_from_name("title")
    new.model = Image
    with connection.schema_editor() as editor:
        editor.alter_field(Image, old, new)
        editor.alter_field(Image, new, old)
