"""Where files are stored: public/ for published images only, private/<user>/<image>-<secret>/ for the rest.

The CDN serves public/ alone, so a non-public file must never be there, and
its key must not follow from anything a user can see (its id, a sibling's id).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from images.models import Generation, Image
from images.services import relocation
from images.services.pipeline import generation_run, output_image_id
from images.storage import image_key, private_folder_secret
from tests.images.factories import GenerationFactory, ImageFactory
from tests.images.test_uploads import png_bytes, upload_file

pytestmark = pytest.mark.django_db

URL = "/api/v1/images"
CDN = "https://cdn.example.com"


def with_files(image: Image) -> dict[str, bytes]:
    """Store a distinct body at each of the image's keys; returns file name → body."""
    bodies = {}
    for key in image.storage_keys():
        name = key.rsplit("/", 1)[-1]
        bodies[name] = f"bytes of {image.pk} {name}".encode()
        default_storage.save(key, ContentFile(bodies[name]))
    return bodies


def stored(image: Image) -> dict[str, bytes]:
    bodies = {}
    for key in image.storage_keys():
        with default_storage.open(key, "rb") as handle:
            bodies[key.rsplit("/", 1)[-1]] = handle.read()
    return bodies


def fetch(client: Client, url: str) -> bytes:
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200, url
    return b"".join(response.streaming_content)


def test_a_private_images_keys_are_under_the_private_prefix_with_a_part_not_derivable_from_public_ids(
    user, settings, django_capture_on_commit_callbacks
):
    generation = GenerationFactory(user=user, provider="fake", model="fake-1", n=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    first, second = generation.images.order_by("index")
    assert second.pk == output_image_id(generation.pk, 1)  # a sibling's id follows from the generation's...
    for image in (first, second):
        assert image.visibility == "private"
        for key in image.storage_keys():
            prefix, owner, folder, _name = key.split("/")
            image_id, _, secret = folder.rpartition("-")
            assert (prefix, owner, image_id) == ("private", str(user.pk), str(image.pk))
            # ...but not its folder: 128 bits keyed with SECRET_KEY, not in any id a user sees.
            assert len(secret) == 32 and secret not in f"{generation.pk}{first.pk}{second.pk}{user.pk}".replace("-", "")
            assert default_storage.exists(key)
            assert not default_storage.exists(f"images/{user.pk}/{image.pk}/{key.rsplit('/', 1)[-1]}")
            assert not default_storage.exists(f"public/{user.pk}/{image.pk}/{key.rsplit('/', 1)[-1]}")
    assert private_folder_secret(first.pk) != private_folder_secret(second.pk)
    settings.SECRET_KEY = "another-secret-key-" * 3
    assert image_key(user_id=user.pk, image_id=first.pk, name="original.png") != first.storage_key


def test_a_rerun_of_a_job_overwrites_the_same_private_keys(user, media_root):
    generation = GenerationFactory(user=user, provider="fake", model="fake-1")
    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
    keys = sorted(generation.images.get().storage_keys())
    # A worker killed after writing the files, before its rows committed: the job runs again.
    Image.objects.filter(generation=generation).delete()
    Generation.objects.filter(pk=generation.pk).update(status=Generation.Status.QUEUED)
    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"

    assert sorted(generation.images.get().storage_keys()) == keys
    assert all(key.startswith(f"private/{user.pk}/") for key in keys)
    on_disk = sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())
    assert on_disk == keys  # overwritten, no strays


def test_making_an_image_public_moves_its_files_under_public_and_its_urls_keep_working(
    api, user, client, django_capture_on_commit_callbacks
):
    image = ImageFactory(user=user)
    bodies = with_files(image)
    old_keys = image.storage_keys()
    assert all(key.startswith("private/") for key in old_keys)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"{URL}/{image.pk}", {"visibility": "public"}, format="json")
    assert response.status_code == 200, response.json()

    image.refresh_from_db()
    assert image.storage_key == f"public/{user.pk}/{image.pk}/original.png"
    assert image.variants["thumb_256"]["key"] == f"public/{user.pk}/{image.pk}/thumb_256.webp"
    assert stored(image) == bodies
    assert not any(default_storage.exists(key) for key in old_keys)
    body = response.json()
    assert urlsplit(body["url"]).path == f"/media/{image.storage_key}"
    assert fetch(client, body["url"]) == bodies["original.png"]
    assert fetch(client, body["thumbnail_url"]) == bodies["thumb_256.webp"]


def test_making_a_public_image_private_moves_its_files_to_a_secret_folder(
    api, user, client, django_capture_on_commit_callbacks
):
    image = ImageFactory(user=user, visibility=Image.Visibility.PUBLIC)
    bodies = with_files(image)
    public_keys = image.storage_keys()
    assert all(key.startswith("public/") for key in public_keys)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"{URL}/{image.pk}", {"visibility": "unlisted"}, format="json")
    assert response.status_code == 200, response.json()

    image.refresh_from_db()
    secret = private_folder_secret(image.pk)
    assert image.storage_key == f"private/{user.pk}/{image.pk}-{secret}/original.png"
    assert stored(image) == bodies
    assert not any(default_storage.exists(key) for key in public_keys)
    assert fetch(client, response.json()["url"]) == bodies["original.png"]


def test_a_move_that_fails_changes_nothing_and_leaves_no_copies(api, user, monkeypatch):
    image = ImageFactory(user=user)
    bodies = with_files(image)
    keys = image.storage_keys()
    real_copy = relocation.copy_key
    calls = []

    def copy_then_fail(source: str, target: str) -> bool:
        calls.append(target)
        if len(calls) == 2:
            raise OSError("storage unreachable")
        return real_copy(source, target)

    monkeypatch.setattr(relocation, "copy_key", copy_then_fail)
    with pytest.raises(OSError):
        api.patch(f"{URL}/{image.pk}", {"visibility": "public"}, format="json")
    image.refresh_from_db()
    assert image.visibility == "private" and set(image.storage_keys()) == set(keys)
    assert stored(image) == bodies
    assert not default_storage.exists(calls[0])  # the copy made before the failure is gone


def test_with_a_cdn_only_public_images_get_cdn_urls_and_their_keys_are_under_public(api, user, settings):
    settings.CDN_URL = CDN
    public = ImageFactory(user=user, visibility=Image.Visibility.PUBLIC)
    private = ImageFactory(user=user)
    unlisted = ImageFactory(user=user, visibility=Image.Visibility.UNLISTED)
    hidden = ImageFactory(user=user, visibility=Image.Visibility.PUBLIC, is_hidden=True)
    # A public image whose files are still where the old layout put them (before storage_relayout).
    legacy = ImageFactory(
        user=user, visibility=Image.Visibility.PUBLIC, storage_key=f"images/{user.pk}/x/original.png", variants={}
    )

    urls = {item["id"]: item["url"] for item in api.get(URL).json()["results"]}

    assert urls[str(public.pk)] == f"{CDN}/public/{user.pk}/{public.pk}/original.png"
    for image in (private, unlisted, hidden, legacy):
        assert not urls[str(image.pk)].startswith(CDN)
        assert "signature=" in urls[str(image.pk)]
    for image in (private, unlisted, hidden):
        assert image.storage_key.startswith(f"private/{user.pk}/{image.pk}-")
    download = api.get(f"{URL}/{public.pk}/download?variant=thumb_256")
    assert download.status_code == 302 and download["Location"].startswith(f"{CDN}/public/")
    assert not api.get(f"{URL}/{legacy.pk}/download")["Location"].startswith(CDN)


def test_a_public_upload_is_processed_into_the_public_prefix_and_its_raw_file_never_is(
    api, user, django_capture_on_commit_callbacks
):
    from images.tasks import process_image

    response = api.post(
        URL, {"files": [upload_file("cat.png", png_bytes())], "visibility": "public"}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    image = Image.objects.get(pk=response.json()["images"][0]["id"])
    raw_key = image.storage_key
    assert raw_key.startswith(f"private/{user.pk}/{image.pk}-") and raw_key.endswith("/upload.png")

    with django_capture_on_commit_callbacks(execute=True):
        assert process_image.apply(args=[str(image.pk)]).get() == "ready"
    image.refresh_from_db()
    assert image.storage_keys() and all(key.startswith(f"public/{user.pk}/{image.pk}/") for key in image.storage_keys())
    assert all(default_storage.exists(key) for key in image.storage_keys())
    assert not default_storage.exists(raw_key)
    private_folder = raw_key.rsplit("/", 1)[0]
    assert not default_storage.listdir(private_folder)[1]  # the private renditions were moved, not copied


@pytest.fixture
def staff(admin_client: Client) -> Client:
    """A superuser, signed in (pytest-django's ``admin_client``)."""
    return admin_client


@pytest.mark.parametrize(
    ("action", "fields"),
    [("hide", {"is_hidden": True}), ("make_private", {"visibility": "private"})],
)
def test_staff_hiding_or_making_private_moves_a_public_images_files_out_of_public(
    staff, user, action, fields, django_capture_on_commit_callbacks
):
    image = ImageFactory(user=user, visibility=Image.Visibility.PUBLIC)
    bodies = with_files(image)
    public_keys = image.storage_keys()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/admin/images/image/", {"action": action, "_selected_action": [str(image.pk)]})
    assert response.status_code == 302
    image.refresh_from_db()
    assert all(getattr(image, name) == value for name, value in fields.items())
    assert image.storage_key.startswith(f"private/{user.pk}/{image.pk}-{private_folder_secret(image.pk)}/")
    assert stored(image) == bodies
    assert not any(default_storage.exists(key) for key in public_keys)


def test_staff_unhiding_a_public_image_moves_it_back_under_public(staff, user, django_capture_on_commit_callbacks):
    image = ImageFactory(user=user, visibility=Image.Visibility.PUBLIC, is_hidden=True)
    bodies = with_files(image)
    with django_capture_on_commit_callbacks(execute=True):
        staff.post("/admin/images/image/", {"action": "unhide", "_selected_action": [str(image.pk)]})
    image.refresh_from_db()
    assert not image.is_hidden and image.storage_key == f"public/{user.pk}/{image.pk}/original.png"
    assert stored(image) == bodies


def test_staff_changing_visibility_in_the_image_form_moves_its_files(staff, user, django_capture_on_commit_callbacks):
    image = ImageFactory(user=user)
    bodies = with_files(image)
    form = {"visibility": "public", "title": "", "category": "", "tags": []}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/admin/images/image/{image.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    image.refresh_from_db()
    assert image.visibility == "public" and image.storage_key == f"public/{user.pk}/{image.pk}/original.png"
    assert stored(image) == bodies
