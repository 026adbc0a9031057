"""Rate counters: one atomic update per request, windows that reset, bounded storage, both stores."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import uuid

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.api.throttles import client_network
from imagegen.models import RateCounter
from imagegen.ratelimit import RedisStore, expired_counters_delete, rate_hit
from imagegen.tasks import delete_expired_rate_counters
from tests.factories import UserFactory
from tests.support.processes import BASE_DIR, child_env

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def redis_store(settings):
    if not _redis_reachable():
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.THROTTLE_STORE = "redis"
    settings.REDIS_URL = REDIS_URL
    return RedisStore(REDIS_URL)


@pytest.mark.django_db
def test_it_allows_the_limit_then_refuses_until_the_window_ends():
    decisions = [rate_hit("t:a", limit=3, window=900, now=1000.0 + i) for i in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].wait == 897  # the window opened at the first request, 3 s earlier
    assert rate_hit("t:a", limit=3, window=900, now=1900.0).allowed  # a new window
    assert not rate_hit("t:b", limit=0, window=60, now=1000.0).allowed


@pytest.mark.django_db
def test_it_keeps_one_row_per_client_whatever_the_rate():
    for i in range(250):
        rate_hit("t:busy", limit=1000, window=3600, now=1000.0 + i / 100)

    assert RateCounter.objects.count() == 1
    assert RateCounter.objects.get().count == 250


@pytest.mark.django_db
def test_a_counter_update_is_one_statement(django_assert_num_queries):
    rate_hit("t:warm", limit=10, window=60)
    with django_assert_num_queries(1):
        rate_hit("t:warm", limit=10, window=60)


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_count_commits_without_waiting_for_the_wal_flush_and_only_it():
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        rate_hit("t:async", limit=10, window=60)

    assert "set_config('synchronous_commit', 'off', true)" in captured.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # the next transaction commits durably again
    assert RateCounter.objects.get(ident="t:async").count == 1

    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        rate_hit("t:async", limit=10, window=60)
    assert "synchronous_commit" not in captured.captured_queries[-1]["sql"]  # a caller's commit stays durable


@pytest.mark.django_db
def test_periodic_maintenance_deletes_ended_windows_only():
    rate_hit("t:old", limit=5, window=60, now=1000.0)
    rate_hit("t:live", limit=5, window=60, now=1050.0)

    assert expired_counters_delete(now=1070.0) == 1
    assert list(RateCounter.objects.values_list("ident", flat=True)) == ["t:live"]
    assert delete_expired_rate_counters.apply().get() == 1  # the beat task: everything has ended by now


@pytest.mark.parametrize(
    ("address", "network"),
    [("203.0.113.7", "203.0.113.7"), ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
     ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"), ("::ffff:198.51.100.4", "198.51.100.4"), ("junk", "junk")],
)  # fmt: skip
def test_anonymous_ipv6_clients_are_counted_per_64_so_they_cannot_multiply_counters(address, network):
    assert client_network(address) == network


def test_the_redis_store_counts_atomically_and_lets_redis_expire_keys(redis_store):
    ident = f"t:{uuid.uuid4()}"
    counts = [redis_store.hit(ident, window_ms=60_000, now_ms=0) for _ in range(3)]

    assert [count for count, _ in counts] == [1, 2, 3]
    assert all(0 < remaining <= 60_000 for _, remaining in counts)
    assert 0 < redis_store._redis.pttl(f"imagegen:rate:{ident}") <= 60_000


def test_the_redis_store_never_passes_more_than_the_limit_under_a_thread_burst(redis_store):
    ident = f"t:{uuid.uuid4()}"
    allowed = _burst(lambda: rate_hit(ident, limit=20, window=60).allowed, threads=60)

    assert allowed == 20


def _burst(call, *, threads: int) -> int:
    """Run ``call`` from ``threads`` threads released at once; how many returned True."""
    barrier = threading.Barrier(threads)
    results: list[bool] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(call())
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert len(results) == threads
    return sum(results)


@pytest.mark.django_db(transaction=True)
def test_a_database_counter_never_passes_more_than_the_limit_under_a_thread_burst():
    allowed = _burst(lambda: rate_hit("t:burst", limit=20, window=900).allowed, threads=60)

    assert allowed == 20
    assert RateCounter.objects.get(ident="t:burst").count == 60


# --- The password-handling scopes, end to end ------------------------------------------------------


@pytest.fixture
def auth_rate(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/hour", "user": "100000/hour", "auth": "20/15min"},
    }


def _post_statuses(path: str, bodies: list[dict], *, user=None) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    bodies_iter = iter(bodies)

    def call() -> bool:
        with lock:
            body = next(bodies_iter)
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        status = client.post(path, body, format="json").status_code
        with lock:
            statuses.append(status)
        return status != 429

    _burst(call, threads=len(bodies))
    return statuses


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scope", ["sign-in", "sign-up", "password change"])
def test_a_concurrent_burst_on_a_password_endpoint_passes_no_more_than_the_limit(auth_rate, scope):
    user = UserFactory()
    if scope == "sign-in":
        statuses = _post_statuses("/api/v1/auth/token", [{"email": user.email, "password": "wrong"}] * 40)
    elif scope == "sign-up":
        bodies = [{"email": f"new{i}@example.com", "password": "short"} for i in range(40)]
        statuses = _post_statuses("/api/v1/auth/signup", bodies)
    else:
        body = {"current_password": "wrong", "new_password": "plum-orbit-glacier-7731"}
        statuses = _post_statuses("/api/v1/me/password", [body] * 40, user=user)

    assert len(statuses) == 40
    assert statuses.count(429) == 20, statuses
    assert 500 not in statuses


CHILD = textwrap.dedent(
    """
    import json, sys, time
    import django
    django.setup()
    from imagegen.ratelimit import rate_hit
    start = float(sys.argv[1])
    while time.time() < start:
        time.sleep(0.001)
    print(json.dumps([rate_hit("t:processes", limit=25, window=900).allowed for _ in range(20)]))
    """
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_processes_sharing_one_database_never_pass_more_than_the_limit():
    # Four processes, each 20 requests, released together: on SQLite they share one file.
    import time

    start = str(time.time() + 3)
    env = child_env(DJANGO_SETTINGS_MODULE="tests.settings")
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, start], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    allowed = 0
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        allowed += sum(json.loads(out.strip().splitlines()[-1]))

    assert allowed == 25
    assert RateCounter.objects.get(ident="t:processes").count == 80


@pytest.mark.django_db
@pytest.mark.parametrize("ident", ["account:900:a\x00b@example.com", "account:900:" + "x" * 500, "anon:900:\n"])
def test_an_ident_the_database_could_not_store_is_counted_under_its_digest(ident):
    decisions = [rate_hit(ident, limit=1, window=900, now=1000.0) for _ in range(2)]

    assert [d.allowed for d in decisions] == [True, False]
    stored = RateCounter.objects.get().ident
    assert stored.startswith("sha:") and stored.isprintable() and len(stored) < 100
