"""Throttles: rates like 100/15min, per-IP and per-user scopes, shared across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from accounts.services import tokens_for_user
from imagegen.api.rates import parse_rate
from tests.accounts.helpers import bearer, error_of
from tests.factories import ApiKeyFactory, UserFactory
from tests.support.processes import BASE_DIR, child_env

TOKEN = "/api/v1/auth/token"
SIGNUP = "/api/v1/auth/signup"
VERIFY = "/api/v1/auth/token/verify"
ME = "/api/v1/me"


@pytest.fixture
def rates(settings):
    """Set throttle rates for one test (anything not given stays high, out of the way)."""

    def apply(**scopes: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": "1000/hour", "user": "1000/hour", "auth": "1000/hour", **scopes},
        }

    return apply


# --- Rate strings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("100/15min", (100, 900)), ("20/15m", (20, 900)), ("1000/hour", (1000, 3600)), ("5/30s", (5, 30)),
     ("10/day", (10, 86400)), ("3/2h", (3, 7200)), (" 7 / 1 MIN ", (7, 60))],
)  # fmt: skip
def test_it_parses_rates_with_multi_unit_periods(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["", "100", "100/", "100/15", "100/fortnight", "0/min", "5/0min", "x/min"])
def test_it_refuses_malformed_rates(rate):
    with pytest.raises(ValueError, match="rate"):
        parse_rate(rate)


def test_a_malformed_rate_in_the_environment_stops_the_start():
    env = child_env(DJANGO_SETTINGS_MODULE="imagegen.settings", DEBUG="1", THROTTLE_ANON_RATE="lots")
    probe = "from imagegen.boot import load_settings_or_exit; load_settings_or_exit()"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "THROTTLE_ANON_RATE" in result.stderr


def test_the_defaults_are_the_documented_ones():
    assert django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "anon": "100/15min",
        "user": "1000/hour",
        "auth": "20/15min",
        "account": "20/15min",
    }


# --- Scopes ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_requests_are_throttled_per_ip(rates):
    rates(anon="3/15min")
    client = APIClient()

    answers = [client.post(VERIFY, {"token": "x"}, format="json").status_code for _ in range(3)]
    throttled = client.post(VERIFY, {"token": "x"}, format="json")
    elsewhere = APIClient(REMOTE_ADDR="10.0.0.9").post(VERIFY, {"token": "x"}, format="json")

    assert answers == [401, 401, 401]
    assert throttled.status_code == 429
    error = error_of(throttled)
    assert error["code"] == "throttled"
    assert 890 <= int(throttled["Retry-After"]) <= 900
    assert elsewhere.status_code == 401  # another address has its own count


@pytest.mark.django_db
def test_sign_in_has_a_stricter_per_ip_scope_even_for_correct_passwords(rates):
    rates(auth="2/15min")
    user = UserFactory()
    client = APIClient()
    body = {"email": user.email, "password": "correct-horse-battery-staple-42"}

    assert [client.post(TOKEN, body, format="json").status_code for _ in range(2)] == [200, 200]
    throttled = client.post(TOKEN, body, format="json")
    signup = client.post(SIGNUP, {"email": "n@example.com", "password": "plum-orbit-glacier-7731"}, format="json")

    assert throttled.status_code == signup.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert client.post(VERIFY, {"token": "x"}, format="json").status_code == 401  # other endpoints unaffected


@pytest.mark.django_db
def test_authenticated_requests_are_throttled_per_user_whatever_the_credential(rates):
    rates(user="3/hour")
    user, other = UserFactory(), UserFactory()
    key = ApiKeyFactory(user=user)
    client = APIClient()
    access = tokens_for_user(user=user)["access"]

    statuses = [
        client.get(ME, **bearer(access)).status_code,
        client.get(ME, HTTP_X_API_KEY=key.raw_key).status_code,
        client.get(ME, **bearer(key.raw_key)).status_code,
    ]
    throttled = client.get(ME, **bearer(access))

    assert statuses == [200, 200, 200]
    assert throttled.status_code == 429
    assert error_of(throttled)["code"] == "throttled"
    assert "Retry-After" in throttled
    assert client.get(ME, **bearer(tokens_for_user(user=other)["access"])).status_code == 200


@pytest.mark.django_db
def test_throttle_counts_do_not_leak_between_tests_part_1(rates):
    rates(anon="1/hour")
    client = APIClient()
    assert client.post(VERIFY, {"token": "x"}, format="json").status_code == 401
    assert client.post(VERIFY, {"token": "x"}, format="json").status_code == 429


@pytest.mark.django_db
def test_throttle_counts_do_not_leak_between_tests_part_2(rates):
    rates(anon="1/hour")
    assert APIClient().post(VERIFY, {"token": "x"}, format="json").status_code == 401


# --- Shared across processes -----------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    from django.test import Client
    client = Client()
    statuses = [
        client.post("/api/v1/auth/token", {"email": "x@example.com", "password": "wrong"},
                    content_type="application/json").status_code
        for _ in range(int(sys.argv[1]))
    ]
    print(json.dumps(statuses))
    """
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_another_process_uses_up_the_same_allowance(rates):
    rates(auth="3/15min")
    # The child reads the same rates from its environment, and the same test
    # database (with its cache table) through child_env()'s DATABASE_URL.
    env = child_env(
        THROTTLE_AUTH_RATE="3/15min", THROTTLE_ANON_RATE="1000/hour", DJANGO_SETTINGS_MODULE="tests.settings"
    )

    child = subprocess.run(
        [sys.executable, "-c", CHILD, "3"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )

    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.strip().splitlines()[-1] == "[401, 401, 401]"
    response = APIClient().post(TOKEN, {"email": "x@example.com", "password": "wrong"}, format="json")
    assert response.status_code == 429
    assert error_of(response)["code"] == "throttled"
