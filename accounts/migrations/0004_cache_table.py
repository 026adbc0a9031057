"""Create the database cache table with the schema: throttles count requests in it.

`manage.py createcachetable` does the same and stays harmless (it skips
existing tables); this makes `migrate` alone enough for a working API.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_apikey"),
    ]

    operations = [
        migrations.RunPython(create_cache_table, migrations.RunPython.noop, elidable=True),
    ]
