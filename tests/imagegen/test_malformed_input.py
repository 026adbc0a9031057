"""Malformed headers, query strings and bodies sent to every route: never a 5xx, never a row left behind.

The routes come from walking the URL resolver, so a new endpoint is covered
without touching this file. On /api/ and /v1/ an error also has the error
shape. Values arrive as a WSGI server hands them over: header bytes decoded
as latin-1, so UTF-8 text shows up as mojibake (``é`` -> ``Ã©``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from rest_framework_simplejwt.tokens import RefreshToken

from images.models import Generation, Image
from images.services.generations import generation_get
from images.services.uploads import upload_signature
from images.storage import signed_local_url
from tests.factories import ApiKeyFactory
from tests.images.factories import GenerationFactory, ImageFactory

NON_ASCII = "ünïcødé ✓ 画像".encode().decode("latin-1")
OVERLONG = "x" * 16_000
NUL = "a\x00b"

# Each header with the malformed values that matter for it.
HEADERS: dict[str, list[str]] = {
    "Authorization": [f"Bearer {NON_ASCII}", f"Bearer {OVERLONG}", f"Bearer {NUL}", NON_ASCII],
    "X-API-Key": [NON_ASCII, OVERLONG, NUL],
    "Prefer": ["wait=" + "9" * 5000, "wait=soon", "wait=", f"wait={NON_ASCII}", OVERLONG],
    "Idempotency-Key": [NON_ASCII, OVERLONG, NUL],
    "If-None-Match": [NON_ASCII, OVERLONG, '"' * 3],
    "Content-Type": [NON_ASCII, "application/json; charset=ebcdic"],
    "Accept": [NON_ASCII, "text/html;q=" + "9" * 5000],
}
AUTH_HEADERS = ("Authorization", "X-API-Key")

BODIES: dict[str, tuple[str, bytes]] = {
    "broken_json": ("application/json", b'{"prompt": "a'),
    "nested_arrays": ("application/json", b"[" * 100_000),
    "nested_objects": ("application/json", b'{"a":' * 200 + b"1" + b"}" * 200),
    "deep_metadata": ("application/json", b'{"prompt": "x", "metadata": ' + b'{"a":' * 70 + b"1" + b"}" * 71),
    "huge_json": ("application/json", b'{"prompt": "' + b"x" * 3_000_000 + b'"}'),
    "huge_integer": ("application/json", b'{"prompt": "x", "n": ' + b"9" * 5000 + b"}"),
    "json_list": ("application/json", b"[1, 2, 3]"),
    "json_null": ("application/json", b"null"),
    "json_string": ("application/json", b'"prompt"'),
    "json_nul_and_non_ascii": ("application/json", '{"prompt": "a\\u0000b", "name": "ünï", "email": "é@x"}'.encode()),
    "non_utf8_json": ("application/json", b'{"prompt": "\xff\xfe\xfd"}'),
    "text_plain": ("text/plain", b'{"prompt": "x"}'),
    "xml": ("application/xml", b"<prompt>x</prompt>"),
    "no_content_type": ("", b'{"prompt": "x"}'),
    "multipart_without_boundary": ("multipart/form-data", b"--x\r\nnot really\r\n"),
    "multipart_garbage": ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data\r\n\r\n\xff"),
    "form_non_utf8": ("application/x-www-form-urlencoded", b"prompt=%FF%FE&name=%C3%28&title=\xff"),
    "form_nul": ("application/x-www-form-urlencoded", b"prompt=a%00b&email=a%00b&password=a%00b&name=a%00b"),
    "form_too_many_fields": ("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(1500)).encode()),
}

QUERY_NAMES = ["cursor", "ordering", "page", "page_size", "status", "q", "tag", "tags", "category", "source",
               "visibility", "processing", "created_after", "created_before", "expires", "signature", "attachment",
               "next"]  # fmt: skip
QUERY_VALUES = {"non_ascii": NON_ASCII, "overlong": OVERLONG, "nul": NUL, "digits": "9" * 5000}
# Bodies also sent with PUT and PATCH (every body goes with POST).
OTHER_METHOD_BODIES = ("broken_json", "nested_arrays", "non_utf8_json", "multipart_without_boundary")

# The error shape is asked of the versioned APIs; /api/schema and /api/docs are documents (YAML, HTML).
API_PREFIXES = ("/api/v1/", "/v1/")
# Route patterns that are regular expressions: the URL each stands for here.
REGEX_ROUTES = {r"^(?:api|v1)/": ["api/v1/no-such-route", "v1/no-such-route"]}
CONVERTER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def _walk(patterns: list, prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        if isinstance(entry.pattern, RegexPattern):
            regex = str(entry.pattern)
            assert regex in REGEX_ROUTES, f"add a sample URL for the regex route {regex!r} to REGEX_ROUTES"
            yield from REGEX_ROUTES[regex]
        elif isinstance(entry, URLResolver):
            route = prefix + str(entry.pattern)
            if route != "admin/":  # Django's own admin, staff only
                yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


ROUTES = sorted(set(_walk(get_resolver().url_patterns)))


@dataclass
class World:
    """One user's objects, so routes with ids reach past their 404s into the code that reads input."""

    token: str
    generation: Generation
    image: Image
    awaiting: Image
    api_key_id: str
    sessions: list[Client] = field(default_factory=list)

    def share_token(self) -> str:
        from images.models import ShareLink

        link = ShareLink.objects.filter(image=self.image).first()
        return (link or ShareLink.objects.create(user=self.image.user, image=self.image, token="w" * 32)).token

    def url(self, route: str) -> tuple[str, dict[str, str]]:
        """The path for ``route`` with real ids filled in, and the query a valid request would carry."""
        query: dict[str, str] = {}

        def fill(match: re.Match) -> str:
            name, converter = match["name"], match["converter"]
            if route.startswith("media/"):
                return self.image.storage_key
            if route.startswith("uploads/"):
                return str(self.awaiting.pk)
            if "api-keys" in route:
                return self.api_key_id
            if "generations" in route:
                return str(self.generation.pk)
            if "models" in route:
                return "builtin-v1"
            if "images" in route or converter == "uuid":
                return str(self.image.pk)
            if name == "token":  # a share link's
                return self.share_token()
            raise AssertionError(f"no sample for <{converter}:{name}> in {route!r}: teach World.url")

        path = "/" + CONVERTER.sub(fill, route)
        if route.startswith("media/"):
            query = dict(
                pair.split("=", 1) for pair in signed_local_url(self.image.storage_key).split("?", 1)[1].split("&")
            )
        elif route.startswith("uploads/"):
            expires = int(time.time()) + 600
            sig = upload_signature(image_id=self.awaiting.pk, key=self.awaiting.storage_key, expires=expires)
            query = {"expires": str(expires), "signature": sig}
        return path, query


@pytest.fixture
def world(user, monkeypatch) -> World:
    # No worker runs here: the OpenAI endpoint's wait would last its full timeout and end in 504.
    def finished(*, user, generation_id, seconds):
        Generation.objects.filter(pk=generation_id).update(status=Generation.Status.SUCCEEDED)
        return generation_get(user=user, generation_id=generation_id)

    monkeypatch.setattr("images.api.openai.generation_wait", finished)
    generation = GenerationFactory(user=user, status=Generation.Status.SUCCEEDED)
    image = ImageFactory(user=user, generation=generation, index=0)
    awaiting = ImageFactory(user=user, source=Image.Source.UPLOADED, processing=Image.Processing.AWAITING_UPLOAD)
    return World(
        token=str(RefreshToken.for_user(user).access_token),
        generation=generation,
        image=image,
        awaiting=awaiting,
        api_key_id=str(ApiKeyFactory(user=user).pk),
    )


def _client(user, *, signed_in: bool) -> Client:
    client = Client(raise_request_exception=False)
    if signed_in:
        client.force_login(user)
    return client


def _check(response, label: str, path: str, counts_before: tuple[int, int]) -> list[str]:
    problems = []
    if response.status_code >= 500:
        problems.append(f"{label}: {response.status_code}")
        return problems
    if path.startswith(API_PREFIXES) and 400 <= response.status_code < 500:
        try:
            error = response.json()["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
        except Exception:  # anything that is not the shape is the finding
            problems.append(f"{label}: {response.status_code} without the error shape: {response.content[:120]!r}")
    if response.status_code >= 400 and (Generation.objects.count(), Image.objects.count()) != counts_before:
        problems.append(f"{label}: {response.status_code} but a generation or an image was created")
    return problems


def _send(client: Client, method: str, path: str, query: dict[str, str], *, body: bytes = b"",
          content_type: str = "application/json", headers: dict[str, str] | None = None):  # fmt: skip
    cache.clear()  # throttle counts: every case must reach the view, not a 429
    url = f"{path}?{urlencode(query)}" if query else path
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
    if "HTTP_CONTENT_TYPE" in extra:
        content_type = extra.pop("HTTP_CONTENT_TYPE")
    return client.generic(method, url, data=body, content_type=content_type, **extra)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_malformed_input_never_gets_a_5xx(route, user, world):
    path, query = world.url(route)
    bearer = {"Authorization": f"Bearer {world.token}"}
    problems: list[str] = []

    def counts() -> tuple[int, int]:
        return Generation.objects.count(), Image.objects.count()

    def run(label: str, client: Client, method: str, query: dict[str, str], **kwargs: object) -> None:
        before = counts()
        response = _send(client, method, path, query, **kwargs)
        problems.extend(_check(response, label, path, before))

    # Signed out, only what is read before authentication: credentials and bodies (CSRF reads forms first).
    for signed_in in (True, False):
        client = _client(user, signed_in=signed_in)
        auth = bearer if signed_in else {}
        state = "signed in" if signed_in else "signed out"
        for method in ("GET", "POST"):
            body = b'{"prompt": "x"}' if method == "POST" else b""
            for header, values in HEADERS.items():
                if signed_in or header in AUTH_HEADERS:
                    for value in values:
                        run(f"{method} {header}: {value[:30]!r} ({state})", client, method, query, body=body,
                            headers={**auth, header: value})  # fmt: skip
        for name, (content_type, body) in BODIES.items():
            for method in ("POST", "PUT", "PATCH") if name in OTHER_METHOD_BODIES else ("POST",):
                run(f"{method} body {name} ({state})", client, method, query, body=body, content_type=content_type,
                    headers=auth)  # fmt: skip
        for name, value in QUERY_VALUES.items():
            # Every parameter at once, then one at a time: non-ASCII, and NUL (which PostgreSQL refuses in text).
            run(f"GET ?every={name} ({state})", client, "GET", {**query, **dict.fromkeys(QUERY_NAMES, value)},
                headers=auth)  # fmt: skip
        if signed_in:
            for param in QUERY_NAMES:
                for name in ("non_ascii", "nul"):
                    run(f"GET ?{param}={name} ({state})", client, "GET", {**query, param: QUERY_VALUES[name]},
                        headers=auth)  # fmt: skip
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_a_5000_digit_prefer_wait_is_a_400_and_creates_nothing(client, world):
    response = client.post(
        "/api/v1/generations", {"prompt": "x"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {world.token}", HTTP_PREFER="wait=" + "9" * 5000,
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_header", "message": response.json()["error"]["message"], "field": "Prefer"
    }  # fmt: skip
    assert Generation.objects.count() == 1  # the world's own


@pytest.mark.django_db
def test_a_prefer_wait_still_reads_the_forms_clients_send(client, world, monkeypatch):
    from imagegen.api.prefer import parse_prefer_wait

    assert parse_prefer_wait("wait=5", maximum=60) == 5
    assert parse_prefer_wait("respond-async, wait=100", maximum=60) == 60
    assert parse_prefer_wait("respond-async; WAIT = 7", maximum=60) == 7
    assert parse_prefer_wait('return=minimal, wait="3"', maximum=60) == 3
    assert parse_prefer_wait("return=minimal", maximum=60) == 0
    assert parse_prefer_wait("", maximum=60) == 0


@pytest.mark.django_db
def test_json_nested_past_the_limit_is_a_400_invalid_json(client, world):
    for body in (b"[" * 100_000, b'{"prompt": "x", "metadata": ' + b'{"a":' * 70 + b"1" + b"}" * 71):
        response = client.post("/api/v1/generations", body, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {world.token}")  # fmt: skip
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_json"
    shallow = b'{"prompt": "x", "metadata": {"a": {"b": [1, 2]}}}'
    response = client.post("/api/v1/generations", shallow, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {world.token}")  # fmt: skip
    assert response.status_code == 202


@pytest.mark.django_db
def test_a_non_ascii_signature_on_the_upload_put_is_a_403(client, world):
    path, query = world.url("uploads/<uuid:image_id>")
    url = f"{path}?expires={query['expires']}&signature={quote('é' * 64)}"
    response = client.put(url, data=b"\x89PNG", content_type="image/png")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"


@pytest.mark.django_db
def test_a_nul_in_an_idempotency_key_or_a_tag_filter_is_a_400_before_postgresql_sees_it(client, world):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world.token}"}
    response = client.post("/api/v1/generations", {"prompt": "x"}, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="a\x00b", **auth)  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Idempotency-Key"
    assert Generation.objects.count() == 1  # the world's own
    response = client.get("/api/v1/images?tag=a%00b", **auth)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "tag"
