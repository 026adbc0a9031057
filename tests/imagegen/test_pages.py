"""The pages' mapping of the domain's errors (imagegen/pages.py): a 404, or a message on the form."""

from __future__ import annotations

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404

from imagegen.errors import Conflict, Invalid, NotFound
from imagegen.pages import add_service_error, or_404, safe_next


class TitleForm(forms.Form):
    title = forms.CharField(required=False)


def _raise(exc: Exception):
    raise exc


def test_not_found_becomes_the_pages_404():
    with pytest.raises(Http404, match="image 42 not found"):
        or_404(lambda: _raise(NotFound("not_found", "image 42 not found")))


def test_other_refusals_pass_through_or_404_to_the_page():
    with pytest.raises(Conflict):
        or_404(lambda: _raise(Conflict("already_finished", "generation already ended")))
    assert or_404(lambda: "found") == "found"


def test_a_domain_error_shows_next_to_its_field_or_above_the_form():
    form = TitleForm(data={"title": "x"})
    form.is_valid()

    add_service_error(form, Invalid("max_length", "title: too long", field="title"))
    add_service_error(form, Conflict("not_ready", "the image is not ready"))
    add_service_error(form, Invalid("invalid", "tags: bad", field="tags"), aliases={})

    assert form.errors["title"] == ["title: too long"]
    assert form.non_field_errors() == ["the image is not ready", "tags: bad"]


def test_aliases_map_a_services_field_to_the_forms():
    form = TitleForm(data={})
    form.is_valid()

    add_service_error(form, Invalid("required", "files: send one", field="files.0"), aliases={"files": "title"})
    add_service_error(form, ValidationError({"title": ValidationError("taken", code="unique")}))

    assert form.errors["title"] == ["files: send one", "taken"]


def test_anything_else_is_a_programming_error():
    with pytest.raises(TypeError):
        add_service_error(TitleForm(data={}), RuntimeError("boom"))


@pytest.mark.parametrize(
    ("next_url", "secure", "expected"),
    [
        ("/gallery?page=2", False, "/gallery?page=2"),
        ("https://evil.example/", False, "/fallback"),
        ("//evil.example/", False, "/fallback"),
        ("http://testserver/gallery", True, "/fallback"),  # no step down from https
        ("", False, "/fallback"),
    ],
)
def test_next_is_followed_only_when_it_stays_on_this_site(rf, next_url, secure, expected):
    request = rf.post("/x", {"next": next_url}, secure=secure)

    assert safe_next(request, "/fallback") == expected


def test_next_may_come_from_the_query_string(rf):
    assert safe_next(rf.get("/login", {"next": "/create"}), "/fallback") == "/create"
