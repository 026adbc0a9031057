from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_it_creates_the_demo_user_once_and_prints_working_credentials():
    out = StringIO()
    call_command("ensure_demo_user", stdout=out)
    email, password = out.getvalue().split("Created demo user: ")[1].strip().split(" / ")
    assert authenticate(username=email, password=password).is_staff

    again = StringIO()
    call_command("ensure_demo_user", stdout=again)
    assert f"{email} / {password}" in again.getvalue()
