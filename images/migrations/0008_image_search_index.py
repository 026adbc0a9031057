import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations

# Not in the models' state (Image.Meta.indexes): it exists on PostgreSQL only, and SQLite rebuilds
# a table with every index of its state whenever a later migration alters it.
INDEX = django.contrib.postgres.indexes.GinIndex(
    django.contrib.postgres.search.CombinedSearchVector(
        django.contrib.postgres.search.SearchVector("title", config="english", weight="A"),
        "||",
        django.contrib.postgres.search.SearchVector("prompt", config="english", weight="B"),
        django.contrib.postgres.search.SearchConfig("english"),
    ),
    name="img_search",
)


def add_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("images", "Image"), INDEX)


def remove_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("images", "Image"), INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("images", "0007_share_links"),
    ]

    operations = [migrations.RunPython(add_index, remove_index, elidable=False)]
