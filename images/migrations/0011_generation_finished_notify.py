"""On PostgreSQL, a trigger announces each generation that ends: ``NOTIFY generation_finished, '<id>'``.

Delivered when the transaction that ended the job commits (never for one rolled back), whichever
code path ended it (worker, cancel, sweeper, admin): request threads waiting for the job
(``Prefer: wait``, the OpenAI-compatible endpoint) wake at once (imagegen/wakeup.py). No
statement is added to the job's own path. Other databases have nothing to install.
"""

from django.db import migrations

CHANNEL = "generation_finished"

CREATE = f"""
CREATE OR REPLACE FUNCTION images_generation_finished_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS images_generation_finished_notify ON images_generation;
CREATE TRIGGER images_generation_finished_notify
    AFTER UPDATE OF status ON images_generation
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('succeeded', 'failed', 'canceled'))
    EXECUTE FUNCTION images_generation_finished_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS images_generation_finished_notify ON images_generation;
DROP FUNCTION IF EXISTS images_generation_finished_notify();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("images", "0010_job_control")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
