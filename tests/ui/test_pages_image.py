"""One image's page: its parameters and downloads, editing and deleting it, and 404s for other people's."""

from __future__ import annotations

import re

import pytest

from images.models import Image
from images.services.pipeline import generation_run
from tests.images.factories import GenerationFactory, ImageFactory
from tests.ui.conftest import csrf_post, generated, image_of, text

pytestmark = pytest.mark.django_db


def test_your_image_shows_prompt_parameters_and_downloads(browser, user):
    generation = generated(user, prompt="a lighthouse", seed=99, style="photo")
    image = image_of(generation)
    response = browser.get(f"/images/{image.pk}")
    html = text(response)
    assert response.status_code == 200
    assert ">a lighthouse</p>" in html and ">99</dd>" in html and ">photo</dd>" in html
    assert f'href="/api/v1/images/{image.pk}/download"' in html
    assert f'href="/api/v1/images/{image.pk}/download?variant=webp"' in html
    assert f'href="/create?remix={image.pk}"' in html


def test_the_page_shows_the_output_format_and_background(browser, user):
    generation = GenerationFactory(user=user, width=64, height=64, prompt="hills", output_format="webp",
                                   output_compression=70, background="transparent")  # fmt: skip
    generation_run(generation_id=str(generation.pk))  # the builtin renderer: real alpha
    html = text(browser.get(f"/images/{image_of(generation).pk}"))
    assert "· WEBP</dd>" in html
    assert "<dt>Background</dt><dd>transparent</dd>" in html
    assert "<dt>Compression</dt><dd>70</dd>" in html


def test_the_download_link_gives_the_image(browser, user):
    image = image_of(generated(user))
    redirect = browser.get(f"/api/v1/images/{image.pk}/download?variant=webp")
    assert redirect.status_code == 302
    file = browser.get(redirect["Location"])
    assert file.status_code == 200 and file["Content-Type"] == "image/webp"


def test_changing_visibility_makes_an_image_public(browser, client, user):
    image = image_of(generated(user))
    response = csrf_post(
        browser,
        f"/images/{image.pk}",
        {"visibility": "public", "title": "Harbour", "category": "sea", "tags": "Boats, night"},
    )
    assert response.status_code == 302
    image.refresh_from_db()
    assert (image.visibility, image.title, image.category) == ("public", "Harbour", "sea")
    assert sorted(tag.name for tag in image.tags.all()) == ["boats", "night"]
    public_html = text(client.get("/"))
    assert "Harbour" in public_html
    assert client.get(f"/images/{image.pk}").status_code == 200  # anyone may look at a public image


def test_edit_errors_are_shown_next_to_the_field(browser, user):
    image = ImageFactory(user=user)
    response = csrf_post(browser, f"/images/{image.pk}", {"visibility": "everyone", "tags": ""})
    assert response.status_code == 400
    assert re.search(r'id="id_visibility_error"', text(response))
    response = csrf_post(browser, f"/images/{image.pk}", {"visibility": "private", "tags": "x" * 70})
    assert re.search(r'id="id_tags_error"[^>]*>\s*<li>tags: tag', text(response))


def test_deleting_an_image_removes_its_files(browser, user, media_root, django_capture_on_commit_callbacks):
    image = image_of(generated(user))
    files = [media_root / key for key in image.storage_keys()]
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(browser, f"/images/{image.pk}/delete")
    assert response.status_code == 302 and response["Location"] == "/gallery"
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not any(f.exists() for f in files)


@pytest.mark.parametrize("visibility", ["private", "unlisted"])
def test_another_users_image_cannot_be_changed(browser, client, other_user, visibility):
    image = ImageFactory(user=other_user, visibility=visibility)
    expected = 404 if visibility == "private" else 200  # unlisted: anyone with the link may look
    assert browser.get(f"/images/{image.pk}").status_code == expected
    assert client.get(f"/images/{image.pk}").status_code == expected
    assert csrf_post(browser, f"/images/{image.pk}", {"visibility": "public"}).status_code == 404
    assert csrf_post(browser, f"/images/{image.pk}/delete").status_code == 404
    image.refresh_from_db()
    assert image.visibility == visibility


def test_someone_elses_public_image_can_be_seen_but_not_changed(browser, other_user):
    image = ImageFactory(user=other_user, visibility="public", title="Open to all")
    html = text(browser.get(f"/images/{image.pk}"))
    assert "Open to all" in html and "Delete image" not in html and 'name="visibility"' not in html
    assert csrf_post(browser, f"/images/{image.pk}/delete").status_code == 404
