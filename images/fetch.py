"""Download images from URLs we do not control, without becoming an SSRF proxy.

Used for ``reference_image_urls`` (URLs users give us) and for result images
that providers hand back as URLs. Every hop of a fetch:

1. is checked by :func:`validate_url` (https only unless ``allow_http``, a
   host, no credentials, a valid port);
2. is resolved once with ``socket.getaddrinfo``; if ANY address is not public
   (private, loopback, link-local, CGNAT, multicast, reserved, unspecified,
   IPv4-mapped/6to4/NAT64 forms of those, cloud metadata), nothing is
   connected to;
3. connects to exactly the address that was checked (the connection is pinned,
   so a second DNS answer cannot swap in 127.0.0.1), while TLS SNI, certificate
   verification and the Host header use the host name.

Redirects are followed by hand (at most :data:`MAX_REDIRECTS`), each target
going through the same checks. One deadline covers DNS, connects, redirects
and the body; the byte limit is enforced while streaming. The body must be an
image by its declared type and by its magic numbers. Environment proxies are
never used: a proxy would resolve the name itself and undo the pinning.

Which addresses are acceptable is an :class:`AddressPolicy`: the default
refuses every non-public address; tests pass one that allows 127.0.0.1.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from urllib.parse import quote, urljoin, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_REDIRECTS = 3
MAX_URL_LENGTH = 2048
USER_AGENT = "Imagegen/1.0 (image fetcher)"
_CHUNK = 64 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
# Served by some S3-compatible stores and CDNs for any object; the magic-number sniff decides.
_GENERIC_TYPES = {"application/octet-stream", "binary/octet-stream"}

# Refused even when a policy allows their network: instance credentials live there.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, ...
        "169.254.170.2",  # ECS task metadata (task role credentials)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class FetchError(Exception):
    """A URL was refused or could not be fetched. ``code`` is stable and machine-readable:
    invalid_url, scheme_not_allowed, forbidden_address, dns_failure, connection_failed,
    too_many_redirects, too_large, timeout, http_error, not_an_image."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    @property
    def retryable(self) -> bool:
        """Whether trying again later could succeed (network trouble, 5xx, 429)."""
        if self.code == "http_error":
            return self.status is not None and (self.status >= 500 or self.status == 429)
        return self.code in {"timeout", "connection_failed", "dns_failure"}


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    # From the bytes (magic numbers), not from the server's header.
    content_type: str
    final_url: str


def is_public_address(address: IPAddress) -> bool:
    """True for addresses on the public internet; False for everything an SSRF could abuse."""
    address = _unwrap(address)
    if address in METADATA_ADDRESSES:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:  # tunnels to an arbitrary IPv4 host
            return False
        if address.is_site_local:
            return False
    elif address in _CGNAT:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv4-mapped, 6to4 or NAT64 IPv6 address, if any."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if any(address in net for net in _NAT64):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-cased with the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
        literal = _ip_literal(parts.hostname or "")
        host = str(literal) if literal is not None else _ascii_host(parts.hostname or "")
    except (ValueError, FetchError):
        return ""
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses a fetch may connect to.

    ``allowed_networks`` are exceptions to the public-only rule (tests allow
    ``127.0.0.1/32``). ``trusted_origins`` are origins an operator configured
    (a provider's base URL): we already send API calls there, so downloading
    from the same origin adds no reach; any address and plain http are accepted
    for them. Cloud metadata addresses are refused whatever the policy says.
    """

    allowed_networks: tuple[IPNetwork, ...] = ()
    trusted_origins: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def allowing(cls, *networks: str) -> AddressPolicy:
        return cls(allowed_networks=tuple(ipaddress.ip_network(n) for n in networks))

    def trusting(self, url: str) -> AddressPolicy:
        """This policy, also trusting the origin of ``url``."""
        origin = origin_of(url)
        return replace(self, trusted_origins=self.trusted_origins | {origin}) if origin else self

    def trusts(self, origin: str) -> bool:
        return origin in self.trusted_origins

    def allows(self, address: IPAddress, *, origin: str = "") -> bool:
        address = _unwrap(address)
        if address in METADATA_ADDRESSES:
            return False
        if origin and self.trusts(origin):
            return True
        if any(address.version == net.version and address in net for net in self.allowed_networks):
            return True
        return is_public_address(address)


DEFAULT_POLICY = AddressPolicy()


@dataclass(frozen=True)
class Target:
    """One validated URL, split into what a request needs."""

    url: str
    scheme: str
    host: str  # IDNA/ASCII host name, or an IP literal without brackets
    port: int
    path: str  # path and query, percent-encoded
    origin: str
    literal: IPAddress | None


def validate_url(url: str, *, allow_http: bool = False, policy: AddressPolicy = DEFAULT_POLICY) -> Target:
    """Check a URL without touching the network; raise :class:`FetchError` if it is refused.

    Suitable at submit time for an early 400. IP literals are checked against
    ``policy`` here; host names are checked when :func:`fetch_image` resolves them.
    """
    if not isinstance(url, str) or not url.strip():
        raise FetchError("invalid_url", "the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise FetchError("invalid_url", f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise FetchError("invalid_url", "the URL contains spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise FetchError("scheme_not_allowed", f"only https URLs are allowed, not {scheme or 'no scheme'}")
    if "@" in parts.netloc:
        raise FetchError("invalid_url", "URLs with credentials (user:password@) are not allowed")
    try:
        port = parts.port
    except ValueError:
        raise FetchError("invalid_url", "the URL's port is not a number from 1 to 65535") from None
    if port == 0:
        raise FetchError("invalid_url", "the URL's port is not a number from 1 to 65535")
    port = port or (443 if scheme == "https" else 80)
    hostname = parts.hostname or ""
    if not hostname:
        raise FetchError("invalid_url", "the URL has no host")
    literal = _ip_literal(hostname)
    host = str(literal) if literal is not None else _ascii_host(hostname)
    origin = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    if scheme == "http" and not (allow_http or policy.trusts(origin)):
        raise FetchError("scheme_not_allowed", "only https URLs are allowed")
    if literal is not None and not policy.allows(literal, origin=origin):
        raise FetchError("forbidden_address", f"{literal} is not a public address")
    if literal is None and (host == "localhost" or host.endswith(".localhost")) and not policy.trusts(origin):
        raise FetchError("forbidden_address", f"{host} is not a public host")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return Target(url=url, scheme=scheme, host=host, port=port, path=path, origin=origin, literal=literal)


def _ip_literal(hostname: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(hostname)
    except ValueError:
        return None


def _ascii_host(hostname: str) -> str:
    try:
        host = hostname.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise FetchError("invalid_url", f"{hostname!r} is not a valid host name") from None
    labels = host.split(".")
    if not host or len(host) > 253 or any(not label or len(label) > 63 for label in labels):
        raise FetchError("invalid_url", f"{hostname!r} is not a valid host name")
    if any(not (ch.isalnum() or ch in "-_") for label in labels for ch in label):
        raise FetchError("invalid_url", f"{hostname!r} is not a valid host name")
    return host


def fetch_image(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_http: bool = False,
    policy: AddressPolicy = DEFAULT_POLICY,
    ssl_context: ssl.SSLContext | None = None,
) -> FetchedImage:
    """GET an image through the SSRF guard; raise :class:`FetchError` on any refusal or failure.

    ``timeout`` bounds the whole fetch (DNS, connects, redirects, body);
    ``max_bytes`` bounds the body. ``ssl_context`` replaces the default context
    (tests and private CAs pass one that trusts their certificate).
    """
    deadline = _Deadline(timeout)
    context = ssl_context or _default_ssl_context()
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        target = validate_url(current, allow_http=allow_http, policy=policy)
        addresses = _resolve(target, policy, deadline)
        conn = _connect(target, addresses, context, deadline)
        try:
            response = _send(conn, target, deadline)
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise FetchError(
                        "http_error", f"{target.host} redirected without a Location", status=response.status
                    )
                current = urljoin(target.url, location.strip())
                continue
            if response.status != 200:
                raise FetchError("http_error", f"{target.host} answered HTTP {response.status}", status=response.status)
            data = _read_body(conn, response, target, max_bytes, deadline)
        finally:
            conn.close()  # type: ignore[attr-defined]
        content_type = sniff_image_type(data)
        if content_type is None:
            raise FetchError("not_an_image", f"{target.host} sent something that is not a JPEG, PNG, WebP, GIF or AVIF")
        return FetchedImage(data=data, content_type=content_type, final_url=target.url)
    raise FetchError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")


def sniff_image_type(data: bytes) -> str | None:
    """The image MIME type told by the leading bytes, or None if they are not a known image."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "image/avif"
    return None


@cache
def _default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class _Deadline:
    """One time limit for the whole fetch, handed out as per-operation socket timeouts."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.at = time.monotonic() + timeout

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise FetchError("timeout", f"the fetch took longer than {self.timeout:g} s")
        return left


def _resolve(target: Target, policy: AddressPolicy, deadline: _Deadline) -> list[tuple[socket.AddressFamily, tuple]]:
    """Resolve once, refuse if any address is not allowed, return the socket addresses to try."""
    if target.literal is not None:
        if target.literal.version == 6:
            return [(socket.AF_INET6, (str(target.literal), target.port, 0, 0))]
        return [(socket.AF_INET, (str(target.literal), target.port))]
    addresses: list[tuple[socket.AddressFamily, tuple]] = []
    for family, _type, _proto, _canon, sockaddr in _getaddrinfo_within(target.host, target.port, deadline):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not policy.allows(address, origin=target.origin):
            raise FetchError("forbidden_address", f"{target.host} resolves to {address}, which is not a public address")
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    if not addresses:
        raise FetchError("dns_failure", f"{target.host} has no IPv4 or IPv6 address")
    return addresses


def _getaddrinfo_within(host: str, port: int, deadline: _Deadline) -> list:
    # getaddrinfo has no timeout of its own; a hung resolver must not outlive the deadline.
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="fetch-dns", daemon=True)
    worker.start()
    worker.join(deadline.left())
    if worker.is_alive():
        raise FetchError("timeout", f"resolving {host} took longer than {deadline.timeout:g} s")
    if "error" in outcome:
        raise FetchError("dns_failure", f"could not resolve {host}: {outcome['error']}")
    return list(outcome.get("infos") or [])


def _open_socket(family: socket.AddressFamily, sockaddr: tuple, timeout: float) -> socket.socket:
    """Connect to exactly ``sockaddr``: the address that passed the policy."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


class _Pinned:
    """Connects to the checked socket address instead of resolving ``host`` again."""

    family: socket.AddressFamily
    sockaddr: tuple
    # Kept after http.client drops ``sock`` (it does once a response will close the connection).
    raw_sock: socket.socket

    def connect(self) -> None:
        sock = _open_socket(self.family, self.sockaddr, self.timeout)  # type: ignore[attr-defined]
        if isinstance(self, http.client.HTTPSConnection):
            try:
                # SNI and certificate checks use the host name, not the pinned address.
                sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
            except BaseException:
                sock.close()
                raise
        self.sock = self.raw_sock = sock


class _PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    pass


def _connect(target: Target, addresses: list, context: ssl.SSLContext, deadline: _Deadline) -> _Pinned:
    failure = ""
    for family, sockaddr in addresses:
        if target.scheme == "https":
            conn: _Pinned = _PinnedHTTPSConnection(target.host, target.port, timeout=deadline.left(), context=context)
        else:
            conn = _PinnedHTTPConnection(target.host, target.port, timeout=deadline.left())
        conn.family, conn.sockaddr = family, sockaddr
        try:
            conn.connect()
            return conn
        except TimeoutError:
            failure = "timed out"
        except ssl.SSLError as exc:
            failure = f"TLS failed ({exc.reason or exc})"
        except OSError as exc:
            failure = exc.strerror or str(exc)
    if failure == "timed out":
        deadline.left()  # raises "timeout" if the deadline is what ran out
    raise FetchError("connection_failed", f"could not connect to {target.host}: {failure}")


@contextmanager
def _exchange_errors(target: Target, deadline: _Deadline, *, reading_body: bool = False) -> Iterator[None]:
    """Socket and HTTP failures during a request or its body, as a :class:`FetchError` naming the host."""
    try:
        yield
    except TimeoutError:
        what = "the fetch took longer than" if reading_body else f"{target.host} did not answer within"
        raise FetchError("timeout", f"{what} {deadline.timeout:g} s") from None
    except http.client.HTTPException as exc:
        what = "broke off the response" if reading_body else "sent a malformed response"
        raise FetchError("http_error", f"{target.host} {what} ({type(exc).__name__})") from None
    except OSError as exc:
        raise FetchError("connection_failed", f"connection to {target.host} failed: {exc}") from None


def _send(conn: _Pinned, target: Target, deadline: _Deadline) -> http.client.HTTPResponse:
    http_conn: http.client.HTTPConnection = conn  # type: ignore[assignment]
    with _exchange_errors(target, deadline):
        http_conn.putrequest("GET", target.path, skip_accept_encoding=True)
        http_conn.putheader("User-Agent", USER_AGENT)
        http_conn.putheader("Accept", "image/*")
        http_conn.putheader("Accept-Encoding", "identity")
        http_conn.endheaders()
        conn.raw_sock.settimeout(deadline.left())
        return http_conn.getresponse()


def _read_body(
    conn: _Pinned, response: http.client.HTTPResponse, target: Target, max_bytes: int, deadline: _Deadline
) -> bytes:
    declared = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
    if declared and not declared.startswith("image/") and declared not in _GENERIC_TYPES:
        raise FetchError("not_an_image", f"{target.host} sent {declared}, not an image")
    length = response.getheader("Content-Length")
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            raise FetchError("http_error", f"{target.host} sent an invalid Content-Length") from None
        if size > max_bytes:
            raise FetchError("too_large", f"the image is {size} bytes; the limit is {max_bytes}")
    chunks: list[bytes] = []
    total = 0
    with _exchange_errors(target, deadline, reading_body=True):
        while True:
            # One socket read per loop, so a slow trickle cannot outlast the deadline.
            conn.raw_sock.settimeout(deadline.left())
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise FetchError("too_large", f"the image is larger than the limit of {max_bytes} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


# --- Webhooks: a POST through the same guard ----------------------------------------


def post_pinned(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    allow_http: bool = False,
    policy: AddressPolicy = DEFAULT_POLICY,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """POST ``body`` to ``url`` and return the status code; raise :class:`FetchError` on refusal or failure.

    The same guard as :func:`fetch_image`: the host is resolved once, every
    address checked against ``policy``, and the connection pinned to a checked
    address. Redirects are never followed (a 3xx is just a status code), so a
    receiver cannot bounce the request to an internal address.
    """
    deadline = _Deadline(timeout)
    target = validate_url(url, allow_http=allow_http, policy=policy)
    conn = _connect(target, _resolve(target, policy, deadline), ssl_context or _default_ssl_context(), deadline)
    http_conn: http.client.HTTPConnection = conn  # type: ignore[assignment]
    try:
        with _exchange_errors(target, deadline):
            http_conn.putrequest("POST", target.path, skip_accept_encoding=True)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                http_conn.putheader(name, value)
            http_conn.endheaders(body)
            conn.raw_sock.settimeout(deadline.left())
            response = http_conn.getresponse()
            response.read(_CHUNK)  # what the receiver says is not needed past a glance
            return response.status
    finally:
        conn.close()
