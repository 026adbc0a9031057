"""Album pages: /albums (list, create), /albums/<id> (images, edit, remove, delete), add to album from the gallery."""

from __future__ import annotations

import pytest

from images.models import Album, Image
from tests.images.factories import ImageFactory
from tests.ui.conftest import csrf_post, text

pytestmark = pytest.mark.django_db


def test_creating_an_album_from_the_albums_page(browser, user):
    assert "No albums yet" in text(browser.get("/albums"))
    response = csrf_post(browser, "/albums", {"title": "Harbours", "description": "Boats"})
    album = Album.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == f"/albums/{album.pk}"
    html = text(browser.get("/albums"))
    assert "Harbours" in html and "0 images" in html


def test_a_blank_title_is_shown_next_to_its_field(browser):
    response = csrf_post(browser, "/albums", {"title": " "})
    assert response.status_code == 400 and 'id="id_title_error"' in text(response)


def test_the_gallery_adds_checked_images_to_a_new_album(browser, user):
    images = [ImageFactory(user=user, title=f"pic {i}") for i in range(3)]
    assert 'formaction="/gallery/add-to-album"' in text(browser.get("/gallery"))
    response = csrf_post(
        browser, "/gallery/add-to-album", {"ids": [str(images[0].pk), str(images[1].pk)], "new_album_title": "Best"}
    )
    album = Album.objects.get(user=user, title="Best")
    assert response["Location"] == f"/albums/{album.pk}"
    assert set(album.images.all()) == set(images[:2])
    html = text(browser.get(f"/albums/{album.pk}"))
    assert ">pic 0<" in html and ">pic 1<" in html and ">pic 2<" not in html and "2 images" in html


def test_the_gallery_adds_checked_images_to_an_existing_album(browser, user):
    album = Album.objects.create(user=user, title="Old")
    image = ImageFactory(user=user)
    assert f'<option value="{album.pk}">Old</option>' in text(browser.get("/gallery"))
    csrf_post(browser, "/gallery/add-to-album", {"ids": [str(image.pk)], "album": str(album.pk)})
    assert list(album.images.all()) == [image]


def test_adding_to_someone_elses_album_is_404(browser, user, other_user):
    theirs = Album.objects.create(user=other_user, title="Theirs")
    image = ImageFactory(user=user)
    response = csrf_post(browser, "/gallery/add-to-album", {"ids": [str(image.pk)], "album": str(theirs.pk)})
    assert response.status_code == 404 and not theirs.images.exists()


def test_removing_and_deleting_keep_the_images(browser, user):
    album = Album.objects.create(user=user, title="Temp")
    image = ImageFactory(user=user)
    album.images.add(image)
    csrf_post(browser, f"/albums/{album.pk}/remove", {"ids": [str(image.pk)]})
    assert not album.images.exists()
    assert csrf_post(browser, f"/albums/{album.pk}/delete")["Location"] == "/albums"
    assert not Album.objects.filter(pk=album.pk).exists() and Image.objects.filter(pk=image.pk).exists()


def test_editing_an_album(browser, user):
    album = Album.objects.create(user=user, title="Before")
    csrf_post(browser, f"/albums/{album.pk}", {"title": "After", "description": "New words"})
    album.refresh_from_db()
    assert album.title == "After" and album.description == "New words"


def test_another_users_album_pages_are_404(browser, other_user):
    theirs = Album.objects.create(user=other_user, title="Theirs")
    assert browser.get(f"/albums/{theirs.pk}").status_code == 404
    assert csrf_post(browser, f"/albums/{theirs.pk}", {"title": "x"}).status_code == 404
    assert csrf_post(browser, f"/albums/{theirs.pk}/delete").status_code == 404
    assert "Theirs" not in text(browser.get("/albums"))


def test_the_gallery_downloads_checked_images_as_a_zip(browser, user):
    import io
    import zipfile

    from tests.ui.conftest import generated, image_of

    images = [image_of(generated(user, prompt=f"pier {i}")) for i in range(2)]
    html = text(browser.get("/gallery"))
    assert 'formaction="/gallery/download-zip"' in html
    response = csrf_post(browser, "/gallery/download-zip", {"ids": [str(image.pk) for image in images]})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert len(names) == 2 and all(name.endswith(".png") for name in names)


def test_a_zip_of_nothing_checked_says_so(browser, user):
    ImageFactory(user=user)
    response = csrf_post(browser, "/gallery/download-zip", {"ids": []})
    assert response.status_code == 302


def test_the_album_page_downloads_the_album(browser, user):
    from tests.ui.conftest import generated, image_of

    album = Album.objects.create(user=user, title="Piers")
    album.images.add(image_of(generated(user)))
    assert f'href="/albums/{album.pk}/download"' in text(browser.get(f"/albums/{album.pk}"))
    response = browser.get(f"/albums/{album.pk}/download")
    assert response.status_code == 200 and 'filename="Piers.zip"' in response["Content-Disposition"]
