from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_it_creates_the_demo_user_once_and_prints_working_credentials_on_a_terminal(settings):
    settings.DEBUG = True
    out = Terminal()
    call_command("ensure_demo_user", stdout=out)
    email, password = out.getvalue().split("Created demo user: ")[1].strip().split(" / ")
    assert authenticate(username=email, password=password).is_staff

    again = Terminal()
    call_command("ensure_demo_user", stdout=again)
    assert f"{email} / {password}" in again.getvalue()


def test_it_keeps_the_password_out_of_output_that_is_not_a_terminal(settings):
    settings.DEBUG = True
    out, again = StringIO(), StringIO()

    call_command("ensure_demo_user", stdout=out)
    call_command("ensure_demo_user", stdout=again)

    email, password = (settings.VAR_DIR / "demo-credentials.txt").read_text().strip().split(" / ")
    assert authenticate(username=email, password=password).is_staff
    for shown in (out.getvalue(), again.getvalue()):
        assert email in shown and "demo-credentials.txt" in shown
        assert password not in shown


def test_with_debug_off_it_creates_no_demo_user(settings):
    settings.DEBUG = False
    out, err = StringIO(), StringIO()

    call_command("ensure_demo_user", stdout=out, stderr=err)

    assert not get_user_model().objects.exists()
    assert "DEBUG is off" in err.getvalue()
