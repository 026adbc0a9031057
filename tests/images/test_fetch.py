"""images.fetch: the SSRF guard, redirects, limits and type checks, against real loopback servers."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from images import fetch
from images.fetch import AddressPolicy, FetchError, fetch_image, validate_url
from tests.support.fake_openai import FakeServer, Reply, png_bytes

LOOPBACK = AddressPolicy.allowing("127.0.0.1/32")
PNG = png_bytes(10, 10)


@pytest.fixture
def server():
    with FakeServer() as srv:
        srv.serve_file("/img.png", Reply(body=PNG, headers={"Content-Type": "image/png"}))
        yield srv


@pytest.fixture
def connects(monkeypatch):
    """Every socket address the fetcher connects to."""
    seen: list[tuple] = []
    real = fetch._open_socket

    def spy(family, sockaddr, timeout):
        seen.append(sockaddr)
        return real(family, sockaddr, timeout)

    monkeypatch.setattr(fetch, "_open_socket", spy)
    return seen


@pytest.fixture
def dns(monkeypatch):
    """Fake DNS answers for chosen names (socket.getaddrinfo as the fetcher calls it); other names resolve for real."""
    answers: dict[str, list[str]] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            lookups.append(host)
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port, 0, 0) if ":" in ip else (ip, port),
                )
                for ip in answers[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(fetch.socket, "getaddrinfo", getaddrinfo)
    answers["lookups"] = lookups  # type: ignore[assignment]
    return answers


def get(url: str, *, policy: AddressPolicy = fetch.DEFAULT_POLICY, allow_http: bool = True, **kwargs):
    kwargs.setdefault("max_bytes", 1024 * 1024)
    kwargs.setdefault("timeout", 5)
    return fetch_image(url, allow_http=allow_http, policy=policy, **kwargs)


def refusal(url: str, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        get(url, **kwargs)
    return info.value


# --- the happy path ------------------------------------------------------------------


def test_it_fetches_an_image_from_an_allowed_server(server):
    fetched = get(server.url("/img.png"), policy=LOOPBACK)

    assert (fetched.data, fetched.content_type, fetched.final_url) == (PNG, "image/png", server.url("/img.png"))
    [hit] = server.requests
    assert hit.headers["host"] == f"127.0.0.1:{server.port}"
    assert hit.headers["accept-encoding"] == "identity"


def test_it_trusts_the_bytes_over_a_generic_content_type(server):
    server.serve_file("/blob", Reply(body=png_bytes(fmt="JPEG"), headers={"Content-Type": "application/octet-stream"}))

    assert get(server.url("/blob"), policy=LOOPBACK).content_type == "image/jpeg"


def test_it_reads_a_body_without_content_length(server):
    server.serve_file("/stream.png", Reply(body=PNG, headers={"Content-Type": "image/png"}, send_length=False))

    assert get(server.url("/stream.png"), policy=LOOPBACK).data == PNG


def test_it_connects_to_the_address_it_checked_and_keeps_the_host_name(server, connects, dns):
    dns["images.example.com"] = ["127.0.0.1"]

    get(f"http://images.example.com:{server.port}/img.png", policy=LOOPBACK)

    assert connects == [("127.0.0.1", server.port)]
    assert dns["lookups"] == ["images.example.com"]  # resolved once: no second answer can be swapped in
    assert server.requests[0].headers["host"] == f"images.example.com:{server.port}"


# --- the SSRF table: refused before any connection -------------------------------------

FORBIDDEN = [
    "http://127.0.0.1:{port}/img.png",
    "https://127.0.0.1:{port}/img.png",
    "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "https://169.254.170.2/v2/credentials",
    "https://[::1]:{port}/img.png",
    "https://10.0.0.5/",
    "https://192.168.1.1/",
    "https://172.16.0.1/",
    "https://100.64.0.1/",
    "https://100.100.100.200/latest/meta-data/",
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://[::ffff:127.0.0.1]:{port}/img.png",
    "https://[::ffff:169.254.169.254]/",
    "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 form of 169.254.169.254
    "https://[2002:7f00:1::]/",  # 6to4 form of 127.0.0.1
    "https://0.0.0.0:{port}/img.png",
    "https://[::]:{port}/",
    "https://224.0.0.1/",
    "https://[fe80::1]/",
    "https://localhost:{port}/img.png",
    "https://127.1:{port}/img.png",  # shorthand, resolved by getaddrinfo to 127.0.0.1
    "https://2130706433:{port}/img.png",  # 127.0.0.1 as one number
    "https://0x7f000001:{port}/img.png",
]


@pytest.mark.parametrize("template", FORBIDDEN)
def test_it_refuses_non_public_addresses_without_connecting(server, connects, template):
    error = refusal(template.format(port=server.port))

    assert error.code == "forbidden_address"
    assert connects == []
    assert server.requests == []


def test_it_refuses_a_host_name_that_resolves_to_a_private_address(dns, connects):
    dns["intranet.example.com"] = ["10.1.2.3"]

    error = refusal("https://intranet.example.com/logo.png")

    assert error.code == "forbidden_address"
    assert "10.1.2.3" in error.message
    assert connects == []


def test_it_refuses_a_host_name_if_any_of_its_addresses_is_private(dns, connects):
    dns["mixed.example.com"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "127.0.0.1"]

    assert refusal("https://mixed.example.com/a.png").code == "forbidden_address"
    assert connects == []


def test_it_refuses_metadata_addresses_even_when_the_policy_allows_their_network(connects):
    error = refusal("http://169.254.169.254/latest/", policy=AddressPolicy.allowing("169.254.0.0/16"))

    assert error.code == "forbidden_address"
    assert connects == []


def test_it_refuses_a_redirect_to_a_forbidden_address(server, connects):
    with FakeServer("127.0.0.2") as forbidden:
        forbidden.serve_file("/secret", Reply(body=PNG, headers={"Content-Type": "image/png"}))
        server.serve_file("/hop", Reply(status=302, headers={"Location": forbidden.url("/secret")}))

        error = refusal(server.url("/hop"), policy=LOOPBACK)

        assert error.code == "forbidden_address"
        assert forbidden.requests == []
        assert connects == [("127.0.0.1", server.port)]


def test_it_refuses_a_redirect_to_the_metadata_service(server, connects):
    server.serve_file("/hop", Reply(status=301, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))

    assert refusal(server.url("/hop"), policy=LOOPBACK).code == "forbidden_address"
    assert connects == [("127.0.0.1", server.port)]


# --- redirects --------------------------------------------------------------------------


def chain(server: FakeServer, hops: int) -> str:
    for i in range(hops):
        server.serve_file(
            f"/r{i}", Reply(status=307, headers={"Location": f"/r{i + 1}" if i + 1 < hops else "/img.png"})
        )
    return server.url("/r0")


def test_it_follows_three_redirects(server):
    fetched = get(chain(server, 3), policy=LOOPBACK)

    assert fetched.data == PNG
    assert fetched.final_url == server.url("/img.png")
    assert len(server.requests) == 4


def test_it_gives_up_after_three_redirects(server):
    error = refusal(chain(server, 4), policy=LOOPBACK)

    assert error.code == "too_many_redirects"
    assert [r.path for r in server.requests] == ["/r0", "/r1", "/r2", "/r3"]


# --- limits and types ---------------------------------------------------------------------


def test_it_refuses_a_declared_length_over_the_limit_before_reading(server):
    server.serve_file("/huge.png", Reply(headers={"Content-Type": "image/png", "Content-Length": str(2 * 1024**3)}))

    error = refusal(server.url("/huge.png"), policy=LOOPBACK)

    assert error.code == "too_large"


def test_it_stops_reading_a_body_that_grows_past_the_limit(server):
    big = PNG + b"\0" * 5000
    server.serve_file("/big.png", Reply(body=big, headers={"Content-Type": "image/png"}, send_length=False))

    assert refusal(server.url("/big.png"), policy=LOOPBACK, max_bytes=2000).code == "too_large"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", PNG),
        ("image/png", b"<html><body>not an image</body></html>"),
        ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("application/json", b"{}"),
    ],
)
def test_it_refuses_what_is_not_an_image(server, content_type, body):
    server.serve_file("/thing", Reply(body=body, headers={"Content-Type": content_type}))

    assert refusal(server.url("/thing"), policy=LOOPBACK).code == "not_an_image"


def test_it_gives_up_when_the_server_stalls(server):
    server.serve_file("/slow.png", Reply(hang=True))

    assert refusal(server.url("/slow.png"), policy=LOOPBACK, timeout=0.3).code == "timeout"


@pytest.mark.parametrize(("status", "retryable"), [(404, False), (403, False), (503, True), (429, True)])
def test_it_reports_http_errors_with_their_status(server, status, retryable):
    server.serve_file("/err", Reply(status=status, body=b"no"))

    error = refusal(server.url("/err"), policy=LOOPBACK)

    assert (error.code, error.status, error.retryable) == ("http_error", status, retryable)


def test_it_reports_a_name_that_does_not_resolve(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(fetch.socket, "getaddrinfo", fail)

    assert refusal("https://no-such-host.example/a.png").code == "dns_failure"


# --- URL checks (also used at submit time) ----------------------------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/a.png", "scheme_not_allowed"),
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("gopher://example.com:70/_x", "scheme_not_allowed"),
        ("data:image/png;base64,iVBORw0KGgo=", "scheme_not_allowed"),
        ("http://example.com/a.png", "scheme_not_allowed"),
        ("https://user:secret@example.com/a.png", "invalid_url"),
        ("https://@example.com/a.png", "invalid_url"),
        ("https:///a.png", "invalid_url"),
        ("https://example.com:99999/a.png", "invalid_url"),
        ("https://example.com:0/a.png", "invalid_url"),
        ("https://exa mple.com/a.png", "invalid_url"),
        ("https://example.com/a\r\nHost: evil.png", "invalid_url"),
        ("https://exa%2fmple.com/", "invalid_url"),
        ("", "invalid_url"),
        ("https://example.com/" + "a" * 2100, "invalid_url"),
        ("https://10.0.0.1/a.png", "forbidden_address"),
        ("https://localhost/a.png", "forbidden_address"),
    ],
)
def test_validate_url_refuses(url, code):
    with pytest.raises(FetchError) as info:
        validate_url(url)
    assert info.value.code == code


def test_validate_url_accepts_public_https_urls_without_resolving_them(monkeypatch):
    def no_dns(*args, **kwargs):
        raise AssertionError("validate_url must not resolve names")

    monkeypatch.setattr(fetch.socket, "getaddrinfo", no_dns)

    target = validate_url("https://Bücher.example/p/ä.png?size=large&x=1")

    assert (target.scheme, target.host, target.port) == ("https", "xn--bcher-kva.example", 443)
    assert target.path == "/p/%C3%A4.png?size=large&x=1"


def test_validate_url_accepts_http_only_when_allowed():
    assert validate_url("http://example.com/a.png", allow_http=True).port == 80


def test_it_refuses_a_redirect_from_https_to_http_unless_http_is_allowed(tls_server, dns):
    dns["images.test"] = ["127.0.0.1"]
    tls_server.serve_file("/down", Reply(status=302, headers={"Location": "http://images.test/img.png"}))

    error = refusal(
        f"https://images.test:{tls_server.port}/down", policy=LOOPBACK, allow_http=False, ssl_context=tls_server.client
    )

    assert error.code == "scheme_not_allowed"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700:4700::1111", True),
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("100.64.0.1", False),
        ("198.18.0.1", False),
        ("192.0.0.192", False),
        ("255.255.255.255", False),
        ("fc00::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("2001::1", False),  # Teredo
        ("::ffff:10.0.0.1", False),
    ],
)
def test_is_public_address(address, public):
    assert fetch.is_public_address(ipaddress.ip_address(address)) is public


# --- TLS: certificate checked against the host name while connecting to the pinned address ------


def _certificate(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def tls_server(tmp_path):
    """An https server whose certificate names images.test, and a client context that trusts it."""
    cert, key = _certificate("images.test")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with FakeServer(tls=server_context) as srv:
        srv.client = ssl.create_default_context(cadata=cert.decode())
        srv.serve_file("/img.png", Reply(body=PNG, headers={"Content-Type": "image/png"}))
        yield srv


def test_it_verifies_the_certificate_for_the_host_name_over_the_pinned_address(tls_server, dns, connects):
    dns["images.test"] = ["127.0.0.1"]

    fetched = get(f"https://images.test:{tls_server.port}/img.png", policy=LOOPBACK, ssl_context=tls_server.client)

    assert fetched.data == PNG
    assert connects == [("127.0.0.1", tls_server.port)]
    assert tls_server.requests[0].headers["host"] == f"images.test:{tls_server.port}"


def test_it_refuses_a_certificate_for_another_name(tls_server, dns):
    dns["other.test"] = ["127.0.0.1"]

    error = refusal(f"https://other.test:{tls_server.port}/img.png", policy=LOOPBACK, ssl_context=tls_server.client)

    assert error.code == "connection_failed"
    assert "TLS" in error.message
    assert tls_server.requests == []
