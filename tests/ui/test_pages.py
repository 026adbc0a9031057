"""Every page of the web UI through Django's test client: rendering, forms and their errors,
404s for other people's things, escaping, and the flows that work without JavaScript."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import ApiKey, User
from accounts.services import api_key_authenticate
from images.models import Generation, Image
from images.services.uploads import image_process
from tests.factories import DEFAULT_PASSWORD
from tests.images.factories import GenerationFactory, ImageFactory
from tests.ui.conftest import csrf_post, generated, image_of, jpeg_bytes

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script>'


def text(response) -> str:
    return response.content.decode()


def inline_code(html: str) -> list[str]:
    """Inline scripts and style attributes: the CSP forbids both, so no page may have any."""
    scripts = [s for s in re.findall(r"<script\b[^>]*>", html) if "src=" not in s]
    styles = re.findall(r"\sstyle\s*=", html)
    return scripts + styles


# --- Signed out ------------------------------------------------------------------------


def test_the_start_page_signed_out_shows_only_public_images(client, user, other_user):
    public = ImageFactory(user=user, visibility="public", title="Shared sunset")
    ImageFactory(user=user, visibility="private", title="My secret")
    ImageFactory(user=other_user, visibility="unlisted", title="Link only")
    ImageFactory(user=other_user, visibility="public", is_hidden=True, title="Hidden by staff")
    response = client.get("/")
    assert response.status_code == 200
    html = text(response)
    assert "Shared sunset" in html and f"/images/{public.pk}" in html
    for title in ("My secret", "Link only", "Hidden by staff"):
        assert title not in html
    assert 'loading="lazy"' in html
    assert "Sign up" in html


def test_the_start_page_signed_in_is_your_gallery(browser):
    response = browser.get("/")
    assert response.status_code == 302 and response["Location"] == "/gallery"


def test_the_public_gallery_has_a_useful_empty_state(client):
    assert "No public images yet" in text(client.get("/"))


@pytest.mark.parametrize(
    "path", ["/gallery", "/create", "/upload", "/settings", "/stats", f"/generations/{uuid.uuid4()}"]
)
def test_pages_of_your_own_ask_you_to_log_in_first(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login?next={path}"


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


# --- Sign-up, log-in, log-out ------------------------------------------------------------


def test_signing_up_creates_the_account_and_signs_in():
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(
        client, "/accounts/signup", {"email": "New@Example.com", "name": "Ada", "password": "a-long-passphrase-77"}
    )
    assert response.status_code == 302 and response["Location"] == "/create"
    user = User.objects.get(email="new@example.com")
    assert user.name == "Ada" and user.check_password("a-long-passphrase-77")
    assert client.get("/gallery").status_code == 200


def test_sign_up_errors_are_shown_next_to_their_fields(user):
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(client, "/accounts/signup", {"email": user.email.upper(), "password": "12345678"})
    assert response.status_code == 400
    html = text(response)
    assert re.search(r'id="id_email_error"[^>]*>\s*<li>An account with this email already exists', html) or (
        re.search(r'id="id_password_error"', html)
    )
    assert 'aria-invalid="true"' in html
    # The email is the service's second check: with a good password it is the one reported.
    response = csrf_post(client, "/accounts/signup", {"email": user.email, "password": "a-long-passphrase-77"})
    assert response.status_code == 400
    assert re.search(r'id="id_email_error"[^>]*>\s*<li>An account with this email already exists', text(response))
    response = csrf_post(client, "/accounts/signup", {"email": "fresh@example.com", "password": "12345678"})
    assert re.search(r'id="id_password_error"[^>]*>\s*<li>This password is too common', text(response))
    assert not User.objects.filter(email="fresh@example.com").exists()


def test_logging_in_goes_to_the_page_asked_for(user):
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(
        client, "/accounts/login", {"email": user.email.upper(), "password": DEFAULT_PASSWORD, "next": "/stats"}
    )
    assert response.status_code == 302 and response["Location"] == "/stats"
    assert client.get("/stats").status_code == 200


def test_logging_in_never_redirects_to_another_site(user):
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(
        client, "/accounts/login", {"email": user.email, "password": DEFAULT_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/gallery"


def test_a_wrong_password_gets_one_message_whatever_was_wrong(user):
    client = Client(enforce_csrf_checks=True)
    wrong = csrf_post(client, "/accounts/login", {"email": user.email, "password": "not-it"})
    unknown = csrf_post(client, "/accounts/login", {"email": "nobody@example.com", "password": "not-it"})
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "Email or password is incorrect." in text(response)
    assert "_auth_user_id" not in client.session


def test_too_many_login_attempts_are_refused_without_checking_the_password(user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "2/min"},
    }
    client = Client(enforce_csrf_checks=True)
    for _ in range(2):
        csrf_post(client, "/accounts/login", {"email": user.email, "password": "wrong"})
    response = csrf_post(client, "/accounts/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in text(response)
    assert "_auth_user_id" not in client.session


def test_logging_out_takes_a_post_with_its_csrf_token(browser):
    confirm = browser.get("/accounts/logout")
    assert confirm.status_code == 200 and "_auth_user_id" in browser.session
    assert browser.post("/accounts/logout").status_code == 403  # no CSRF token
    assert "_auth_user_id" in browser.session
    response = csrf_post(browser, "/accounts/logout")
    assert response.status_code == 302 and response["Location"] == "/"
    assert "_auth_user_id" not in browser.session


# --- Gallery -------------------------------------------------------------------------------


def test_the_gallery_lists_your_images_and_not_others(browser, user, other_user):
    mine = ImageFactory(user=user, title="Mine", dominant_color="#336699")
    ImageFactory(user=other_user, title="Theirs")
    html = text(browser.get("/gallery"))
    assert "Mine" in html and "Theirs" not in html
    assert f'value="{mine.pk}"' in html  # its multi-select checkbox
    assert 'data-color="#336699"' in html and 'loading="lazy"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("source=uploaded", {"Trip photo"}),
        ("visibility=public", {"Public one"}),
        ("category=travel", {"Trip photo"}),
        ("tag=sea", {"Public one"}),
        ("q=harbour", {"Harbour prompt"}),
    ],
)
def test_the_gallery_filters(browser, user, query, expected):
    from images.services.library import image_update

    ImageFactory(user=user, title="Trip photo", source="uploaded", category="travel")
    public = ImageFactory(user=user, title="Public one", visibility="public")
    image_update(user=user, image_id=public.pk, tags=["sea"])
    ImageFactory(user=user, title="Harbour prompt", prompt="a harbour at night")
    html = text(browser.get(f"/gallery?{query}"))
    shown = {title for title in ("Trip photo", "Public one", "Harbour prompt") if f">{title}<" in html}
    assert shown == expected


def test_an_invalid_filter_is_shown_next_to_its_field(browser, user):
    ImageFactory(user=user)
    response = browser.get("/gallery?source=bogus")
    assert response.status_code == 400
    assert re.search(r'id="id_source_error"', text(response))


def test_a_filter_with_no_match_says_so(browser, user):
    ImageFactory(user=user, title="Something")
    assert "No images match these filters" in text(browser.get("/gallery?q=nothing-like-it"))


def test_an_empty_gallery_invites_you_to_create(browser):
    html = text(browser.get("/gallery"))
    assert "Your gallery is empty" in html and 'href="/create"' in html


def test_the_gallery_is_paginated_keeping_the_filters(browser, user):
    for i in range(30):
        ImageFactory(user=user, source="uploaded", title=f"img-{i:02d}")
    first = text(browser.get("/gallery?source=uploaded"))
    assert "Page 1 of 2" in first
    assert 'href="?source=uploaded&amp;page=2"' in first
    second = text(browser.get("/gallery?source=uploaded&page=2"))
    assert second.count('class="card"') == 6


def test_multi_select_delete_removes_your_checked_images_only(
    browser, user, other_user, media_root, django_capture_on_commit_callbacks
):
    mine = [image_of(generated(user)) for _ in range(2)]
    keep = ImageFactory(user=user)
    theirs = ImageFactory(user=other_user)
    files = [media_root / key for image in mine for key in image.storage_keys()]
    assert all(f.exists() for f in files)
    ids = [str(mine[0].pk), str(mine[1].pk), str(theirs.pk), "junk"]
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(browser, "/gallery/delete", {"ids": ids, "next": "/gallery?source=generated"})
    assert response.status_code == 302 and response["Location"] == "/gallery?source=generated"
    assert set(Image.objects.values_list("pk", flat=True)) == {keep.pk, theirs.pk}
    assert not any(f.exists() for f in files)
    assert "Deleted 2 images." in text(browser.get("/gallery"))


def test_delete_with_nothing_checked_asks_to_select(browser, user):
    ImageFactory(user=user)
    response = csrf_post(browser, "/gallery/delete", {})
    assert response.status_code == 302
    assert "Select the images to delete first." in text(browser.get("/gallery"))
    assert Image.objects.count() == 1


# --- Create ------------------------------------------------------------------------------


def create_data(**overrides: object) -> dict:
    data = {
        "prompt": "a red fox in the snow",
        "style": "",
        "dimensions": "size",
        "size": "256x256",
        "aspect_ratio": "1:1",
        "resolution": "1K",
        "n": "1",
        "seed": "",
        "provider": "builtin",
        "strength": "",
    }
    data.update(overrides)
    return data


def test_the_create_page_offers_every_style_size_and_ratio(browser):
    from images.params import ASPECT_RATIOS, SIZES
    from images.styles import STYLES

    html = text(browser.get("/create"))
    for value in [*STYLES, *SIZES, *ASPECT_RATIOS]:
        assert f'value="{value}"' in html
    for name in ("prompt", "negative_prompt", "seed", "reference_file", "strength"):
        assert re.search(rf'<label for="id_{name}"', html), name
    assert 'enctype="multipart/form-data"' in html


def test_creating_queues_a_generation_and_shows_its_page(browser, user):
    response = csrf_post(browser, "/create", create_data(seed="42", style="watercolor", n="2"))
    generation = Generation.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == f"/generations/{generation.pk}"
    assert (generation.prompt, generation.style, generation.n, generation.seed) == (
        "a red fox in the snow",
        "watercolor",
        2,
        42,
    )
    assert (generation.width, generation.height, generation.status) == (256, 256, "queued")


def test_an_aspect_ratio_and_resolution_give_the_apis_dimensions(browser, user):
    csrf_post(browser, "/create", create_data(dimensions="aspect", aspect_ratio="16:9", resolution="1K"))
    generation = Generation.objects.get(user=user)
    assert (generation.width, generation.height) == (1024, 576)


def test_the_serializers_errors_appear_next_to_their_fields(browser, user):
    # The API's rule: strength needs references. The page shows the serializer's message by the field.
    response = csrf_post(browser, "/create", create_data(strength="0.5"))
    assert response.status_code == 400
    assert re.search(r'id="id_strength_error"[^>]*>\s*<li>strength applies only with reference_images', text(response))
    response = csrf_post(browser, "/create", create_data(prompt="   "))
    assert response.status_code == 400 and re.search(r'id="id_prompt_error"', text(response))
    assert not Generation.objects.exists()


def test_a_used_up_quota_is_explained(browser, user, settings):
    settings.TIER_QUOTAS = {user.tier: 1}
    GenerationFactory(user=user, n=1)
    response = csrf_post(browser, "/create", create_data())
    assert response.status_code == 429
    assert "Daily quota of 1 image(s) used up" in text(response)
    assert Generation.objects.filter(user=user).count() == 1


def test_a_double_submit_creates_one_generation(browser, user):
    data = create_data(idempotency_key="form-123")
    first = csrf_post(browser, "/create", data)
    second = csrf_post(browser, "/create", data)
    assert first["Location"] == second["Location"]
    assert Generation.objects.filter(user=user).count() == 1


def test_references_picked_from_your_images_are_sent(browser, user, other_user):
    mine = ImageFactory(user=user)
    html = text(browser.get("/create"))
    assert f'name="reference_images" value="{mine.pk}"' in html
    csrf_post(browser, "/create", create_data(reference_images=[str(mine.pk)], strength="0.4"))
    generation = Generation.objects.get(user=user)
    assert generation.reference_images == [str(mine.pk)] and generation.strength == 0.4


def test_someone_elses_image_cannot_be_a_reference(browser, user, other_user):
    theirs = ImageFactory(user=other_user)
    response = csrf_post(browser, "/create", create_data(reference_images=[str(theirs.pk)]))
    assert response.status_code == 400
    assert re.search(r'id="id_reference_images_error"', text(response))
    assert not Generation.objects.exists()


def test_an_uploaded_reference_becomes_your_image_and_is_used(browser, user, monkeypatch, media_root):
    def worker_done(image, *, seconds):  # the worker's step, run here
        image_process(image_id=str(image.pk))
        image.refresh_from_db()
        return image

    monkeypatch.setattr("images.web.views._wait_for_processing", worker_done)
    upload = SimpleUploadedFile("ref.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = csrf_post(browser, "/create", create_data(reference_file=upload))
    assert response.status_code == 302
    reference = Image.objects.get(user=user, source="uploaded")
    assert reference.processing == "ready"
    assert Generation.objects.get(user=user).reference_images == [str(reference.pk)]


def test_a_reference_still_processing_is_kept_selected_for_the_next_try(browser, user, monkeypatch):
    monkeypatch.setattr("images.web.views.REFERENCE_WAIT_SECONDS", 0)
    upload = SimpleUploadedFile("ref.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = csrf_post(browser, "/create", create_data(reference_file=upload))
    assert response.status_code == 409
    reference = Image.objects.get(user=user, source="uploaded")
    assert "still being processed" in text(response)
    assert not Generation.objects.exists()
    image_process(image_id=str(reference.pk))
    retry = csrf_post(browser, "/create", create_data(reference_images=[str(reference.pk)]))
    assert retry.status_code == 302


def test_a_file_that_is_not_an_image_is_refused_next_to_the_upload_field(browser, user):
    upload = SimpleUploadedFile("ref.jpg", b"not an image at all", content_type="image/jpeg")
    response = csrf_post(browser, "/create", create_data(reference_file=upload))
    assert response.status_code == 400
    assert re.search(r'id="id_reference_file_error"[^>]*>\s*<li>ref.jpg', text(response))
    assert not Image.objects.exists() and not Generation.objects.exists()


def test_remix_prefills_the_form_with_the_generations_parameters(browser, user):
    generation = generated(
        user, prompt="a castle", negative_prompt="fog", style="pixel-art", seed=7, width=1024, height=576
    )
    html = text(browser.get(f"/create?remix={image_of(generation).pk}"))
    assert re.search(r">\s*a castle</textarea>", html) and re.search(r">\s*fog</textarea>", html)
    assert re.search(r'<option value="pixel-art" selected>', html)
    assert re.search(r'name="seed" value="7"', html)
    assert re.search(r'value="aspect"[^>]*checked', html) and re.search(r'<option value="16:9" selected>', html)


def test_remixing_someone_elses_image_is_404(browser, other_user):
    assert browser.get(f"/create?remix={ImageFactory(user=other_user).pk}").status_code == 404


# --- Generation page ---------------------------------------------------------------------


def test_a_running_generation_shows_progress_and_refreshes_without_javascript(browser, user):
    generation = GenerationFactory(user=user, status="running", progress=40)
    html = text(browser.get(f"/generations/{generation.pk}"))
    assert '<progress max="100" value="40"' in html
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert f'data-poll-url="/api/v1/generations/{generation.pk}"' in html
    assert f'action="/generations/{generation.pk}/cancel"' in html


def test_a_queued_generation_shows_its_place_in_the_queue(browser, user):
    GenerationFactory(status="queued")
    generation = GenerationFactory(user=user, status="queued")
    assert "position 2 in the queue" in text(browser.get(f"/generations/{generation.pk}"))


def test_a_finished_generation_shows_its_images_and_stops_refreshing(browser, user):
    generation = generated(user, n=2)
    html = text(browser.get(f"/generations/{generation.pk}"))
    for image in generation.images.all():
        assert f'href="/images/{image.pk}"' in html
    assert "http-equiv" not in html and "data-poll-url" not in html
    assert "Remix" in html


def test_a_failed_generation_shows_its_error(browser, user):
    generation = GenerationFactory(
        user=user, status="failed", error_code="content_policy", error_message="the provider refused this prompt"
    )
    html = text(browser.get(f"/generations/{generation.pk}"))
    assert "the provider refused this prompt" in html and "content_policy" in html


def test_the_polled_api_answers_the_browsers_session(browser, user):
    generation = GenerationFactory(user=user, status="running", progress=55)
    body = browser.get(f"/api/v1/generations/{generation.pk}").json()
    assert body["status"] == "running" and body["progress"] == 55


def test_cancel_from_the_page(browser, user):
    generation = GenerationFactory(user=user, status="running")
    response = csrf_post(browser, f"/generations/{generation.pk}/cancel")
    assert response.status_code == 302
    generation.refresh_from_db()
    assert generation.status == "canceled"
    again = csrf_post(browser, f"/generations/{generation.pk}/cancel", follow=True)
    assert "Not canceled" in text(again)


def test_another_users_generation_is_404(browser, other_user):
    generation = GenerationFactory(user=other_user)
    assert browser.get(f"/generations/{generation.pk}").status_code == 404
    assert csrf_post(browser, f"/generations/{generation.pk}/cancel").status_code == 404
    assert browser.get(f"/generations/{uuid.uuid4()}").status_code == 404
    assert browser.get("/generations/not-a-uuid").status_code == 404


# --- One image --------------------------------------------------------------------------


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
def test_another_users_image_is_404(browser, client, other_user, visibility):
    image = ImageFactory(user=other_user, visibility=visibility)
    assert browser.get(f"/images/{image.pk}").status_code == 404
    assert client.get(f"/images/{image.pk}").status_code == 404
    assert csrf_post(browser, f"/images/{image.pk}", {"visibility": "public"}).status_code == 404
    assert csrf_post(browser, f"/images/{image.pk}/delete").status_code == 404
    image.refresh_from_db()
    assert image.visibility == visibility


def test_someone_elses_public_image_can_be_seen_but_not_changed(browser, other_user):
    image = ImageFactory(user=other_user, visibility="public", title="Open to all")
    html = text(browser.get(f"/images/{image.pk}"))
    assert "Open to all" in html and "Delete image" not in html and 'name="visibility"' not in html
    assert csrf_post(browser, f"/images/{image.pk}/delete").status_code == 404


# --- Upload -----------------------------------------------------------------------------


def test_uploading_a_jpeg_adds_it_to_your_gallery(browser, user):
    upload = SimpleUploadedFile("beach.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = csrf_post(
        browser,
        "/upload",
        {
            "files": [upload],
            "title": "Beach",
            "category": "travel",
            "tags": "sea, sun",
            "visibility": "unlisted",
        },
    )
    image = Image.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == f"/images/{image.pk}"
    assert (image.source, image.title, image.visibility, image.processing) == (
        "uploaded",
        "Beach",
        "unlisted",
        "pending",
    )
    assert "Processing" in text(browser.get(f"/images/{image.pk}"))
    image_process(image_id=str(image.pk))
    html = text(browser.get("/gallery"))
    assert "Beach" in html and 'loading="lazy"' in html


def test_several_files_at_once_go_to_the_gallery(browser, user):
    files = [SimpleUploadedFile(f"{i}.jpg", jpeg_bytes(), content_type="image/jpeg") for i in range(3)]
    response = csrf_post(browser, "/upload", {"files": files, "visibility": "private"})
    assert response.status_code == 302 and response["Location"] == "/gallery"
    assert Image.objects.filter(user=user).count() == 3


def test_an_upload_that_is_not_an_image_is_refused_next_to_the_field(browser, user):
    upload = SimpleUploadedFile("notes.jpg", b"plain text, not a picture", content_type="image/jpeg")
    response = csrf_post(browser, "/upload", {"files": [upload], "visibility": "private"})
    assert response.status_code == 400
    assert re.search(r'id="id_files_error"[^>]*>\s*<li>notes.jpg', text(response))
    assert not Image.objects.exists()


def test_an_upload_without_a_file_asks_for_one(browser):
    response = csrf_post(browser, "/upload", {"visibility": "private"})
    assert response.status_code == 400 and re.search(r'id="id_files_error"', text(response))


# --- Settings and stats -----------------------------------------------------------------


def test_the_profile_name_can_be_changed(browser, user):
    response = csrf_post(browser, "/settings", {"action": "profile", "name": "  Grace Hopper "})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.name == "Grace Hopper"


def test_changing_the_password_keeps_this_browser_signed_in(browser, user):
    response = csrf_post(
        browser,
        "/settings",
        {
            "action": "password",
            "current_password": DEFAULT_PASSWORD,
            "new_password": "another-fine-phrase-9",
            "new_password_again": "another-fine-phrase-9",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-fine-phrase-9")
    assert browser.get("/settings").status_code == 200


def test_password_change_errors_are_shown_by_their_fields(browser, user):
    wrong = csrf_post(
        browser,
        "/settings",
        {
            "action": "password",
            "current_password": "nope",
            "new_password": "another-fine-phrase-9",
            "new_password_again": "another-fine-phrase-9",
        },
    )
    assert re.search(r'id="id_current_password_error"[^>]*>\s*<li>The current password is incorrect', text(wrong))
    weak = csrf_post(
        browser,
        "/settings",
        {
            "action": "password",
            "current_password": DEFAULT_PASSWORD,
            "new_password": "123",
            "new_password_again": "123",
        },
    )
    assert re.search(r'id="id_new_password_error"', text(weak))
    differ = csrf_post(
        browser,
        "/settings",
        {
            "action": "password",
            "current_password": DEFAULT_PASSWORD,
            "new_password": "another-fine-phrase-9",
            "new_password_again": "another-fine-phrase-8",
        },
    )
    assert re.search(r'id="id_new_password_again_error"[^>]*>\s*<li>The two new passwords differ', text(differ))
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_an_api_key_is_shown_once_and_works_until_revoked(browser, user):
    response = csrf_post(browser, "/settings", {"action": "create_key", "name": "ci runner"})
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    raw_key = re.search(r'<code id="new-api-key">(igk_[^<]+)</code>', text(response)).group(1)
    assert api_key_authenticate(raw_key=raw_key).user == user
    listing = text(browser.get("/settings"))
    assert "ci runner" in listing and raw_key not in listing
    key = ApiKey.objects.get(user=user)
    assert csrf_post(browser, f"/settings/api-keys/{key.pk}/revoke").status_code == 302
    assert api_key_authenticate(raw_key=raw_key) is None
    assert "ci runner" not in text(browser.get("/settings"))


def test_an_api_key_needs_a_name(browser):
    response = csrf_post(browser, "/settings", {"action": "create_key", "name": "  "})
    assert response.status_code == 400 and re.search(r'id="id_name_error"', text(response))


def test_another_users_api_key_cannot_be_revoked(browser, other_user):
    from accounts.services import api_key_create

    key, raw_key = api_key_create(user=other_user, name="theirs")
    response = csrf_post(browser, f"/settings/api-keys/{key.pk}/revoke", follow=True)
    assert "does not exist" in text(response)
    assert api_key_authenticate(raw_key=raw_key) is not None


def test_the_stats_page_counts_your_things(browser, user, other_user):
    generated(user, n=2)
    ImageFactory(user=user, source="uploaded", visibility="public")
    ImageFactory(user=other_user)
    GenerationFactory(user=user, status="failed")
    html = text(browser.get("/stats"))
    counts = dict(
        (label, int(value))
        for value, label in re.findall(r'<div class="value">(\d+)</div><p class="label">([^<]+)</p>', html)
    )
    assert counts["images in total"] == 3 and counts["generated"] == 2 and counts["uploaded"] == 1
    assert counts["public"] == 1 and counts["failed"] == 1 and counts["succeeded"] == 1


# --- Escaping, errors -------------------------------------------------------------------


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
