"""Settings for the test suite: the real settings module under test-friendly env.

Environment defaults are set here (not in a conftest) because pytest-django
loads settings before any conftest runs. Worker and server processes started
by tests inherit them, so they share the same var/ folder and broker.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("IMAGEGEN_VAR_DIR", tempfile.mkdtemp(prefix="imagegen-test-"))
# pytest-xdist's workers inherit the environment of the process that started them: each takes a var/
# folder of its own (its broker, media and SQLite files), which the processes it starts inherit in turn.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _xdist_worker and os.environ.get("IMAGEGEN_TEST_VAR_WORKER") != _xdist_worker:
    os.environ["IMAGEGEN_VAR_DIR"] = tempfile.mkdtemp(prefix=f"imagegen-test-{_xdist_worker}-")
    os.environ["IMAGEGEN_TEST_VAR_WORKER"] = _xdist_worker
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

from imagegen.settings import *  # noqa: E402, F403

# Argon2 is the production hasher (asserted in tests/imagegen/test_settings.py);
# a fast hasher keeps hundreds of test sign-ups quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's in-memory default, so worker and server processes
    # started by end-to-end tests can open the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405

# A scriptable provider for pipeline tests (tests/support/providers.py).
IMAGE_PROVIDERS = {**IMAGE_PROVIDERS, "fake": "tests.support.providers.FakeProvider"}  # noqa: F405
