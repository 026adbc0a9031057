"""GET /images (filters, ordering, pagination), GET/PATCH/DELETE /images/{id}, bulk-delete, download, public list."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from images.models import Generation, Image, Tag
from tests.images.factories import GenerationFactory, ImageFactory

URL = "/api/v1/images"


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def tagged(image: Image, *names: str) -> Image:
    for name in names:
        image.tags.add(Tag.objects.get_or_create(name=name)[0])
    return image


def aged(image: Image, *, days: float) -> Image:
    Image.objects.filter(pk=image.pk).update(created_at=timezone.now() - timedelta(days=days))
    image.refresh_from_db()
    return image


def store_files(image: Image) -> list[str]:
    for key in image.storage_keys():
        default_storage.save(key, ContentFile(b"bytes of " + key.encode()))
    return image.storage_keys()


# --- The list -------------------------------------------------------------------------


def test_it_lists_only_the_callers_images_newest_first(api, user, other_user):
    old = aged(ImageFactory(user=user), days=2)
    new = ImageFactory(user=user)
    ImageFactory(user=other_user)
    ImageFactory(user=user, processing=Image.Processing.AWAITING_UPLOAD)
    response = api.get(URL)
    assert ids(response) == [str(new.pk), str(old.pk)]
    assert response.json()["next"] is None and response.json()["previous"] is None


def test_the_image_object_has_every_documented_field(api, user):
    generation = GenerationFactory(user=user)
    image = tagged(ImageFactory(user=user, generation=generation, title="Fox", prompt="a fox"), "b", "a")
    item = api.get(URL).json()["results"][0]
    assert set(item) >= {
        "id", "source", "generation", "title", "prompt", "width", "height", "format", "content_type", "bytes",
        "sha256", "url", "thumbnail_url", "variants", "dominant_color", "exif", "tags", "category", "visibility",
        "processing", "created_at",
    }  # fmt: skip
    assert item["id"] == str(image.pk)
    assert item["generation"] == str(generation.pk)
    assert item["tags"] == ["a", "b"]
    assert item["processing"] == "ready"
    assert item["url"].startswith("http://testserver/media/private/")
    assert item["variants"]["thumb_256"]["width"] == 256


def test_pending_and_failed_images_are_listed_without_urls(api, user):
    ImageFactory(user=user, source=Image.Source.UPLOADED, processing=Image.Processing.PENDING)
    ImageFactory(user=user, source=Image.Source.UPLOADED, processing=Image.Processing.FAILED)
    items = api.get(URL).json()["results"]
    assert {item["processing"] for item in items} == {"pending", "failed"}
    assert all(item["url"] is None and item["thumbnail_url"] is None and item["variants"] == {} for item in items)


def test_it_pages_with_a_cursor(api, user):
    made = [aged(ImageFactory(user=user), days=i) for i in range(5)]
    first = api.get(URL, {"limit": 2})
    assert ids(first) == [str(i.pk) for i in made[:2]]
    second = api.get(first.json()["next"])
    assert ids(second) == [str(i.pk) for i in made[2:4]]
    third = api.get(second.json()["next"])
    assert ids(third) == [str(made[4].pk)] and third.json()["next"] is None
    assert ids(api.get(third.json()["previous"])) == [str(i.pk) for i in made[2:4]]


@pytest.mark.parametrize(
    "params", [{"cursor": "garbage"}, {"cursor": "cD1ub3QtYS1kYXRl"}, {"limit": 0}, {"limit": 101}]
)
def test_a_bad_cursor_or_limit_is_400(api, user, params):
    ImageFactory(user=user)
    response = api.get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == next(iter(params))


def test_it_filters_by_source_category_visibility_and_processing(api, user):
    generated = ImageFactory(user=user, category="cats", visibility=Image.Visibility.PUBLIC)
    uploaded = ImageFactory(user=user, source=Image.Source.UPLOADED, category="dogs")
    failed = ImageFactory(user=user, source=Image.Source.UPLOADED, processing=Image.Processing.FAILED)
    assert set(ids(api.get(URL, {"source": "uploaded"}))) == {str(uploaded.pk), str(failed.pk)}
    assert ids(api.get(URL, {"source": "generated"})) == [str(generated.pk)]
    assert ids(api.get(URL, {"category": "dogs"})) == [str(uploaded.pk)]
    assert ids(api.get(URL, {"visibility": "public"})) == [str(generated.pk)]
    assert ids(api.get(URL, {"processing": "failed"})) == [str(failed.pk)]


def test_the_tag_filter_keeps_images_with_all_given_tags(api, user):
    both = tagged(ImageFactory(user=user), "cat", "night")
    tagged(ImageFactory(user=user), "cat")
    tagged(ImageFactory(user=user), "night", "city")
    assert ids(api.get(URL, {"tag": ["cat", "night"]})) == [str(both.pk)]
    assert ids(api.get(URL, {"tag": "Cat, NIGHT"})) == [str(both.pk)]  # trimmed, lower-cased, comma-separated
    assert len(ids(api.get(URL, {"tag": "cat"}))) == 2
    assert ids(api.get(URL, {"tag": "nothing"})) == []


def test_it_filters_by_creation_time(api, user):
    old = aged(ImageFactory(user=user), days=10)
    new = ImageFactory(user=user)
    cutoff = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(api.get(URL, {"created_after": cutoff})) == [str(new.pk)]
    assert ids(api.get(URL, {"created_before": cutoff})) == [str(old.pk)]


def test_q_searches_title_and_prompt_ignoring_case(api, user):
    by_title = ImageFactory(user=user, title="Red Fox")
    by_prompt = ImageFactory(user=user, prompt="a FOX in snow")
    ImageFactory(user=user, title="owl", prompt="an owl")
    assert set(ids(api.get(URL, {"q": "fox"}))) == {str(by_title.pk), str(by_prompt.pk)}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"source": "foo"}, "source"),
        ({"visibility": "secret"}, "visibility"),
        ({"processing": "awaiting_upload"}, "processing"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-13-45"}, "created_before"),
        ({"ordering": "sha256"}, "ordering"),
        ({"tag": "x" * 65}, "tag"),
    ],
)
def test_an_unknown_filter_value_is_400_naming_the_field(api, user, params, field):
    ImageFactory(user=user)
    response = api.get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field
    assert field in error["message"]


@pytest.mark.parametrize(
    ("ordering", "key", "reverse"),
    [
        ("bytes", lambda i: i.bytes, False),
        ("-bytes", lambda i: i.bytes, True),
        ("title", lambda i: i.title, False),
        ("created_at", lambda i: i.created_at, False),
        ("-created_at", lambda i: i.created_at, True),
    ],
)
def test_it_orders_and_pages_by_the_ordering_parameter(api, user, ordering, key, reverse):
    made = [
        aged(ImageFactory(user=user, bytes=size, title=title), days=days)
        for size, title, days in [(300, "b", 3), (100, "d", 1), (500, "a", 2), (200, "c", 5), (400, "e", 4)]
    ]
    expected = [str(i.pk) for i in sorted(made, key=key, reverse=reverse)]
    first = api.get(URL, {"ordering": ordering, "limit": 3})
    rest = api.get(first.json()["next"])
    assert ids(first) + ids(rest) == expected


def test_the_list_costs_the_same_queries_for_1_and_100_images(api, user):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(URL, {"limit": 100})
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    tagged(ImageFactory(user=user, generation=GenerationFactory(user=user)), "a", "b")
    one, listed = count_queries()
    assert listed == 1
    for _ in range(99):
        tagged(ImageFactory(user=user, generation=GenerationFactory(user=user)), "a", "b")
    hundred, listed = count_queries()
    assert listed == 100
    assert hundred == one


def test_the_list_needs_credentials():
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# --- One image ------------------------------------------------------------------------


def test_it_gets_one_image(api, user):
    image = ImageFactory(user=user, title="Fox")
    response = api.get(f"{URL}/{image.pk}")
    assert response.status_code == 200
    assert response.json()["title"] == "Fox"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_users_image_is_404(api, other_user, method):
    image = ImageFactory(user=other_user)
    response = getattr(api, method)(f"{URL}/{image.pk}", {"title": "mine now"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    image.refresh_from_db()
    assert image.title == ""


def test_a_malformed_id_is_404(api):
    response = api.get(f"{URL}/not-a-uuid")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_patch_changes_title_category_visibility_and_replaces_tags(api, user):
    image = tagged(ImageFactory(user=user), "old")
    response = api.patch(
        f"{URL}/{image.pk}",
        {"title": "Sunset", "category": "sky", "visibility": "public", "tags": [" Orange ", "sky", "orange"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["title"], body["category"], body["visibility"]) == ("Sunset", "sky", "public")
    assert body["tags"] == ["orange", "sky"]
    image.refresh_from_db()
    assert sorted(image.tags.values_list("name", flat=True)) == ["orange", "sky"]


def test_patch_leaves_fields_it_was_not_given(api, user):
    image = tagged(ImageFactory(user=user, title="Keep", category="c"), "t")
    body = api.patch(f"{URL}/{image.pk}", {"tags": "x, y"}, format="json").json()
    assert (body["title"], body["category"], body["tags"]) == ("Keep", "c", ["x", "y"])
    assert api.patch(f"{URL}/{image.pk}", {"tags": []}, format="json").json()["tags"] == []


def test_patch_refuses_a_misspelt_field_instead_of_ignoring_it(api, user):
    image = ImageFactory(user=user)
    response = api.patch(f"{URL}/{image.pk}", {"visiblity": "public"}, format="json")
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == ("unknown_field", "visiblity")
    image.refresh_from_db()
    assert image.visibility == "private"


def test_patch_accepts_the_image_it_read_back_with_one_field_changed(api, user):
    image = ImageFactory(user=user, title="before")
    body = {**api.get(f"{URL}/{image.pk}").json(), "title": "after"}
    response = api.patch(f"{URL}/{image.pk}", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "after"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"visibility": "secret"}, "visibility"),
        ({"tags": [1, 2]}, "tags"),
        ({"tags": [{"name": "x"}]}, "tags"),
        ({"tags": 5}, "tags"),
        ({"tags": ["x" * 65]}, "tags"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"title": "x" * 201}, "title"),
        ({"category": "x" * 65}, "category"),
    ],
)
def test_patch_refuses_bad_values(api, user, body, field):
    image = ImageFactory(user=user, title="before")
    response = api.patch(f"{URL}/{image.pk}", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    image.refresh_from_db()
    assert image.title == "before" and image.tags.count() == 0


def test_delete_removes_the_row_and_every_stored_file_after_commit(api, user, django_capture_on_commit_callbacks):
    image = ImageFactory(user=user)
    keys = store_files(image)
    assert len(keys) == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"{URL}/{image.pk}")
    assert response.status_code == 204
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not any(default_storage.exists(key) for key in keys)


def test_files_stay_when_the_delete_does_not_commit(api, user, django_capture_on_commit_callbacks):
    image = ImageFactory(user=user)
    keys = store_files(image)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api.delete(f"{URL}/{image.pk}")
    assert len(callbacks) == 1  # deferred to the commit, which this test never runs
    assert all(default_storage.exists(key) for key in keys)


# --- Bulk delete ----------------------------------------------------------------------


def test_bulk_delete_deletes_the_callers_and_reports_the_rest(
    api, user, other_user, django_capture_on_commit_callbacks
):
    mine = [ImageFactory(user=user) for _ in range(2)]
    theirs = ImageFactory(user=other_user)
    keys = store_files(mine[0]) + store_files(theirs)
    missing = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{URL}/bulk-delete",
            {"ids": [str(mine[0].pk), str(mine[1].pk), str(theirs.pk), str(missing)]},
            format="json",
        )
    assert response.status_code == 200
    assert response.json() == {"deleted": [str(i.pk) for i in mine], "not_found": [str(theirs.pk), str(missing)]}
    assert not Image.objects.filter(user=user).exists()
    assert Image.objects.filter(pk=theirs.pk).exists()
    assert [default_storage.exists(key) for key in keys] == [False, False, True, True]


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [str(uuid.uuid4()) for _ in range(101)]},
        {"ids": ["not-a-uuid"]},
        {"ids": []},
        {"ids": "x"},
        {},
    ],
)
def test_bulk_delete_refuses_bad_id_lists(api, user, body):
    image = ImageFactory(user=user)
    response = api.post(f"{URL}/bulk-delete", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"].startswith("ids")
    assert Image.objects.filter(pk=image.pk).exists()


# --- Download -------------------------------------------------------------------------


def test_download_redirects_to_a_signed_url_of_the_original(api, user, client):
    image = ImageFactory(user=user)
    store_files(image)
    response = api.get(f"{URL}/{image.pk}/download")
    assert response.status_code == 302
    location = response["Location"]
    assert urlsplit(location).path == f"/media/{image.storage_key}"
    assert {"expires", "signature"} <= set(parse_qs(urlsplit(location).query))
    served = client.get(location)
    assert b"".join(served.streaming_content) == b"bytes of " + image.storage_key.encode()
    assert served["Content-Disposition"].startswith("attachment;")
    assert "filename=" in served["Content-Disposition"]


def test_download_of_a_variant_points_at_that_variant(api, user):
    image = ImageFactory(user=user)
    response = api.get(f"{URL}/{image.pk}/download", {"variant": "thumb_256"})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == f"/media/{image.variants['thumb_256']['key']}"


def test_download_refuses_an_unknown_or_missing_variant_and_a_pending_image(api, user):
    image = ImageFactory(user=user)
    unknown = api.get(f"{URL}/{image.pk}/download", {"variant": "huge"})
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "variant"
    missing = api.get(f"{URL}/{image.pk}/download", {"variant": "webp"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "variant_not_found"
    pending = ImageFactory(user=user, processing=Image.Processing.PENDING)
    assert api.get(f"{URL}/{pending.pk}/download").status_code == 409


def test_download_of_another_users_image_is_404(api, other_user):
    assert api.get(f"{URL}/{ImageFactory(user=other_user).pk}/download").status_code == 404


# --- Public list ----------------------------------------------------------------------


def test_the_public_list_shows_everyones_public_ready_visible_images_without_credentials(user, other_user):
    shown = [
        ImageFactory(user=user, visibility=Image.Visibility.PUBLIC, title="fox"),
        ImageFactory(user=other_user, visibility=Image.Visibility.PUBLIC),
    ]
    ImageFactory(user=user, visibility=Image.Visibility.UNLISTED)
    ImageFactory(user=user)
    ImageFactory(user=user, visibility=Image.Visibility.PUBLIC, is_hidden=True)
    ImageFactory(user=user, visibility=Image.Visibility.PUBLIC, processing=Image.Processing.PENDING)
    client = APIClient()
    assert set(ids(client.get("/api/v1/public/images"))) == {str(i.pk) for i in shown}
    # A stale token does not matter: no credentials are read here.
    client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.bogus")
    assert set(ids(client.get("/api/v1/public/images"))) == {str(i.pk) for i in shown}
    assert ids(client.get("/api/v1/public/images", {"q": "FOX"})) == [str(shown[0].pk)]


def test_the_public_list_filters_by_tag_and_category(user):
    cat = tagged(ImageFactory(user=user, visibility=Image.Visibility.PUBLIC, category="animals"), "cat")
    tagged(ImageFactory(user=user, visibility=Image.Visibility.PUBLIC), "dog")
    client = APIClient()
    assert ids(client.get("/api/v1/public/images", {"tag": "cat"})) == [str(cat.pk)]
    assert ids(client.get("/api/v1/public/images", {"category": "animals"})) == [str(cat.pk)]
    assert client.get("/api/v1/public/images", {"cursor": "nope"}).status_code == 400


def test_generation_objects_still_embed_their_images(api, user):
    generation = GenerationFactory(user=user, status=Generation.Status.SUCCEEDED)
    ImageFactory(user=user, generation=generation, index=0)
    body = api.get(f"/api/v1/generations/{generation.pk}").json()
    assert body["images"][0]["url"]
