"""What every page holds to: no inline code under the CSP, user text shown as text, our own 404 and 500 pages."""

from __future__ import annotations

import re

import pytest

from tests.ui.conftest import generated, image_of, text

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script>'


def inline_code(html: str) -> list[str]:
    """Inline scripts and style attributes: the CSP forbids both, so no page may have any."""
    scripts = [s for s in re.findall(r"<script\b[^>]*>", html) if "src=" not in s]
    styles = re.findall(r"\sstyle\s*=", html)
    return scripts + styles


def test_pages_have_no_inline_scripts_or_styles(client, browser, user):
    image = image_of(generated(user))
    for page in [client.get("/"), client.get("/accounts/login"), client.get("/accounts/signup")] + [
        browser.get(path)
        for path in [
            "/gallery",
            "/create",
            "/upload",
            "/settings",
            "/stats",
            f"/images/{image.pk}",
            f"/generations/{image.generation_id}",
        ]
    ]:
        assert page.status_code == 200
        assert inline_code(text(page)) == [], page.wsgi_request.path


def test_pages_are_served_under_a_policy_without_inline_code(client):
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_a_prompt_with_markup_is_shown_as_text_everywhere(browser, client, user):
    generation = generated(user, prompt=XSS)
    image = image_of(generation)
    image.visibility = "public"
    image.save()
    pages = [
        browser.get(f"/generations/{generation.pk}"),
        browser.get(f"/images/{image.pk}"),
        browser.get("/gallery"),
        browser.get("/create"),
        browser.get(f"/create?remix={image.pk}"),
        client.get("/"),
        client.get(f"/images/{image.pk}"),
    ]
    for page in pages:
        html = text(page)
        assert XSS not in html, page.wsgi_request.get_full_path()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text(pages[1])


def test_unknown_pages_get_our_html_404_and_the_api_keeps_json(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert "Page not found" in text(page) and "app.css" in text(page)
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_a_server_error_gets_our_html_500_page(rf):
    from imagegen.api.errors import handler500

    response = handler500(rf.get("/gallery"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in text(response) and "app.css" in text(response)
    api = handler500(rf.get("/api/v1/me"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
