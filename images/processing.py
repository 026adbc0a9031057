"""Pure image processing for every stored image: bytes in, bytes and dicts out.

No ORM, no storage, no settings: the worker passes the limits in. Formats are
identified by content (magic bytes, then Pillow restricted to that format),
never by file name. Accepted: JPEG, PNG, WebP, GIF (first frame) and AVIF.

``make_derivatives`` decodes once and produces everything served for an
image: a re-encoded original without metadata, a WebP rendition (long side at
most 2048), thumbnails (256 and 768), the dominant colour and an EXIF summary
without location. Served files never carry EXIF, XMP or comments. The served
original keeps an ICC profile that matches its pixels (colour data: dropping it
would shift wide-gamut photos); the previews are converted to sRGB and carry none.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import struct
import warnings
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError

from images.exif import exif_summary

CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "AVIF": "image/avif",
}
# The file name extension of each content type we store.
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif", "image/avif": "avif"}
DEFAULT_MAX_PIXELS = 50_000_000
THUMBNAIL_SIZES = (256, 768)
WEBP_MAX = 2048
WEBP_QUALITY = 80
# libwebp effort, chosen by measurement (make bench, "WebP method"; docs/benchmarks.md): method 1
# encodes a 2048x1536 photo in ~1/5 of method 4's time (Pillow's default) and ~55% of method 2's,
# with files ~6% smaller than either; on generated pictures its files are ~10% larger than
# method 2's for ~2/3 of the time. 5 and 6 make generated pictures a third smaller for 1.1-1.6x
# method 4's time.
WEBP_METHOD = 1
JPEG_QUALITY = 90  # no optimize=True: 2.7x the encode time of a 12 MP original for 3% smaller files
# Re-encoded PNG originals: level 3 is about as fast as level 1 on photos and
# illustrations and ~15% smaller; level 6 costs 3-5x the time for a few % more.
PNG_LEVEL = 3
# Resize in two steps (an integer reduce(), then Lanczos) when the source is
# more than 3x the target: close to a one-step Lanczos in quality, much faster.
REDUCING_GAP = 3.0
# Threads that share one image's work: Pillow lets go of the GIL while it resamples and encodes,
# so the full-size encode, the two halves of the big resize and the WebP encodes overlap.
THREADS = 2
# Below this many output rows a resize is not worth splitting between threads.
SPLIT_MIN_ROWS = 256
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SRGB = ImageCms.createProfile("sRGB")
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


class InvalidImage(ValueError):
    """Bytes that are not an image we accept. ``code`` is stable; ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: JPEG, PNG, WEBP, GIF, AVIF
    content_type: str
    width: int  # as displayed: after the EXIF orientation
    height: int
    bytes: int
    sha256: str
    animated: bool = False


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str  # "original", "webp", "thumb_256", ...
    data: bytes
    width: int
    height: int
    format: str
    content_type: str

    @property
    def nbytes(self) -> int:
        """Length of ``data`` in bytes."""
        return len(self.data)


@dataclasses.dataclass(frozen=True)
class Derivatives:
    info: ImageInfo
    served_original: Variant | None  # None when asked not to re-encode
    webp: Variant
    thumbnails: dict[int, Variant]  # by requested long side
    dominant_color: str  # "#rrggbb"; "" for a fully transparent image
    exif: dict = dataclasses.field(default_factory=dict)

    @property
    def variants(self) -> dict[str, Variant]:
        """The derived files by name: ``webp``, ``thumb_256``, ``thumb_768`` (not the original)."""
        return {"webp": self.webp, **{r.name: r for r in self.thumbnails.values()}}


# --- identification -------------------------------------------------------------------


def _detect(data: bytes) -> str:
    """Pillow's format name for accepted content; raises InvalidImage otherwise."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(PNG_SIGNATURE):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(size, 64), 4)}
        if brands & {b"avif", b"avis"}:
            return "AVIF"
        if brands & {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}:
            raise InvalidImage("unsupported_format", "HEIC/HEIF images are not supported; use JPEG, PNG, WebP or AVIF")
    known = (
        (b"BM", "BMP"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
        (b"\x00\x00\x01\x00", "ICO"),
        (b"8BPS", "PSD"),
        (b"\xff\x0a", "JPEG XL"),
        (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
        (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
        (b"qoif", "QOI"),
    )
    for magic, name in known:
        if head.startswith(magic):
            raise InvalidImage("unsupported_format", f"{name} images are not supported; use JPEG, PNG, WebP or AVIF")
    text = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in text:
        raise InvalidImage("unsupported_format", "SVG is not accepted (it can carry scripts); upload a raster image")
    raise InvalidImage("not_an_image", "the file is not an image (expected JPEG, PNG, WebP, GIF or AVIF)")


def _open(data: bytes, *, max_pixels: int, max_bytes: int | None) -> tuple[Image.Image, str]:
    """Open lazily (headers only) after the byte, format and pixel checks."""
    if not data:
        raise InvalidImage("not_an_image", "the file is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise InvalidImage("too_large", f"the file is {len(data)} bytes; the limit is {max_bytes}")
    fmt = _detect(data)
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own pixel limit and raises past twice it; both are bombs here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage("too_many_pixels", f"the image has too many pixels ({exc})") from exc
    except (UnidentifiedImageError, SyntaxError, ValueError, struct.error) as exc:
        raise InvalidImage("corrupt", f"the {fmt} header is not valid") from exc
    except (OSError, EOFError) as exc:
        raise InvalidImage("truncated", f"the {fmt} file ends too early") from exc
    if im.width * im.height > max_pixels:
        im.close()
        raise InvalidImage(
            "too_many_pixels", f"the image is {im.width}x{im.height} pixels; the limit is {max_pixels} pixels"
        )
    if im.width < 1 or im.height < 1:
        im.close()
        raise InvalidImage("corrupt", "the image has no pixels")
    return im, fmt


def _load(im: Image.Image, fmt: str) -> None:
    """Decode the pixels (the first frame), mapping decoder errors to codes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage("too_many_pixels", f"the image has too many pixels ({exc})") from exc
    except EOFError as exc:
        raise InvalidImage("truncated", f"the {fmt} file ends too early") from exc
    except OSError as exc:
        code = "truncated" if "truncated" in str(exc) or "end of file" in str(exc).lower() else "corrupt"
        raise InvalidImage(code, f"the {fmt} data could not be decoded ({exc})") from exc
    except (SyntaxError, ValueError, struct.error, zlib.error) as exc:
        raise InvalidImage("corrupt", f"the {fmt} data could not be decoded ({exc})") from exc


def _orientation(im: Image.Image, fmt: str) -> int:
    # A PNG's eXIf chunk may follow the pixels: reading it would decode them, so only look when it is known.
    if fmt == "PNG" and "exif" not in im.info:
        return 1
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a malformed EXIF block must not make the image unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _info(data: bytes, im: Image.Image, fmt: str) -> ImageInfo:
    w, h = im.size
    if _orientation(im, fmt) in (5, 6, 7, 8):
        w, h = h, w
    return ImageInfo(
        format=fmt,
        content_type=CONTENT_TYPES[fmt],
        width=w,
        height=h,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        animated=bool(getattr(im, "is_animated", False)),
    )


def sniff(data: bytes) -> ImageInfo | None:
    """What these bytes are, by content, reading headers only (cheap enough for a web request).

    None unless they are an accepted format (JPEG, PNG, WebP, GIF, AVIF) with a
    readable header. No pixel limits and no decoding: ``inspect`` does those.
    """
    try:
        im, fmt = _open(data, max_pixels=2**62, max_bytes=None)
    except InvalidImage:
        return None
    with im:
        return _info(data, im, fmt)


def probe(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int | None = None) -> ImageInfo:
    """Identify an image from its headers alone, raising ``InvalidImage`` if it is not one we accept.

    What a web request may afford: the format by content, the dimensions and
    the pixel limit (so a decompression bomb is refused by what it claims),
    never the pixels. Codes as ``inspect``; ``truncated`` and ``corrupt`` only
    for a header that cannot be read. Bytes that break further in are the
    worker's to find (``make_derivatives`` decodes them).
    """
    im, fmt = _open(data, max_pixels=max_pixels, max_bytes=max_bytes)
    with im:
        return _info(data, im, fmt)


def inspect(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int | None = None) -> ImageInfo:
    """Identify and fully decode an image, raising ``InvalidImage`` if it is not one we accept.

    Codes: ``not_an_image``, ``unsupported_format`` (a real image in a format
    we refuse, e.g. SVG, HEIC, TIFF), ``too_large`` (bytes over ``max_bytes``),
    ``too_many_pixels`` (over ``max_pixels``: decompression bombs),
    ``truncated`` and ``corrupt``.
    """
    im, fmt = _open(data, max_pixels=max_pixels, max_bytes=max_bytes)
    with im:
        _load(im, fmt)
        return _info(data, im, fmt)


# --- derivatives ------------------------------------------------------------------------


def _fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the long side is at most ``long_side``; never enlarged."""
    scale = long_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _to_8bit(im: Image.Image) -> Image.Image:
    """16- and 32-bit greyscale scaled down to 8 bits (Pillow's convert would clip, not scale)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        peak = 65535 if im.mode.startswith("I;16") else max(1, im.getextrema()[1])
        return im.convert("I").point(lambda v: v * (255 / peak)).convert("L")
    return im


def _web_image(im: Image.Image) -> Image.Image:
    """RGB or RGBA for resizing and WebP: alpha kept only when some pixel uses it."""
    im = _to_8bit(im)
    if _has_alpha(im):
        rgba = im.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            return rgba
        return rgba.convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


def _resize(im: Image.Image, size: tuple[int, int], pool: Executor | None = None) -> Image.Image:
    if im.size == size:
        return im
    if im.mode == "RGBA":
        # Premultiplied while resampling, or transparent pixels bleed their (invisible) colour into edges.
        return _resample(im.convert("RGBa"), size, pool).convert("RGBA")
    return _resample(im, size, pool)


def _resample(im: Image.Image, size: tuple[int, int], pool: Executor | None) -> Image.Image:
    """Lanczos to ``size`` after an integer ``reduce()`` (as Pillow's ``reducing_gap``), in two bands at once.

    Each band is resampled from the whole source (``box`` only places it), so the
    bands meet without a seam: the pixels equal a one-piece resize.
    """
    width, height = size
    factor_x = int(im.width / width / REDUCING_GAP) or 1
    factor_y = int(im.height / height / REDUCING_GAP) or 1
    box = (0.0, 0.0, float(im.width), float(im.height))
    if factor_x > 1 or factor_y > 1:
        reduced = im.reduce((factor_x, factor_y))
        box = (0.0, 0.0, im.width / factor_x, im.height / factor_y)
        im = reduced
    if pool is None or height < SPLIT_MIN_ROWS:
        return im.resize(size, Image.Resampling.LANCZOS, box=box)
    mid = height // 2
    cut = box[1] + (box[3] - box[1]) * mid / height
    top = pool.submit(im.resize, (width, mid), Image.Resampling.LANCZOS, (box[0], box[1], box[2], cut))
    bottom = im.resize((width, height - mid), Image.Resampling.LANCZOS, box=(box[0], cut, box[2], box[3]))
    out = Image.new(im.mode, size)
    out.paste(top.result(), (0, 0))
    out.paste(bottom, (0, mid))
    return out


def _encode_webp(im: Image.Image, name: str) -> Variant:
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return Variant(name, buf.getvalue(), im.width, im.height, "WEBP", CONTENT_TYPES["WEBP"])


def _png_info(text: Mapping[str, str] | None) -> PngImagePlugin.PngInfo | None:
    if not text:
        return None
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        _check_keyword(key)
        info.add_text(key, str(value))  # Pillow writes iTXt when the value is not Latin-1
    return info


def _lossless_webp(data: bytes) -> bool:
    kind = data[12:16]
    return kind == b"VP8L" or (kind == b"VP8X" and b"VP8L" in data[30:4096] and b"VP8 " not in data[30:4096])


def _icc_matches(icc: bytes | None, mode: str) -> bool:
    """Whether an ICC profile describes pixels of ``mode`` (its header names the colour space)."""
    if not icc or len(icc) < 20:
        return False
    space = icc[16:20]
    return space == (b"GRAY" if mode in ("1", "L", "LA", "I", "I;16", "I;16B") else b"RGB ")


def _to_srgb(im: Image.Image, icc: bytes) -> Image.Image | None:
    """``im`` (RGB, RGBA or CMYK) converted from its ICC profile to sRGB; None when it cannot be."""
    if im.mode not in ("RGB", "RGBA", "CMYK"):
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if im.mode != "CMYK" and "srgb" in (ImageCms.getProfileDescription(source) or "").lower():
            return im
        mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _encode_original(
    im: Image.Image, fmt: str, data: bytes, icc: bytes | None, png_text: Mapping[str, str] | None
) -> Variant:
    """The original re-encoded in its own format, with no metadata but its ICC profile and our PNG text."""
    buf = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        out = im if im.mode in ("L", "RGB") else im.convert("RGB")
        out.save(buf, "JPEG", quality=JPEG_QUALITY, **extra)
    elif fmt == "PNG":
        out = im if im.mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B") else _web_image(im)
        pnginfo = _png_info(png_text)
        out.save(buf, "PNG", compress_level=PNG_LEVEL, **extra, **({"pnginfo": pnginfo} if pnginfo else {}))
    elif fmt == "GIF":
        out = im if im.mode in ("P", "L") else im.convert("P", palette=Image.Palette.ADAPTIVE)
        out.save(buf, "GIF")
    elif fmt == "WEBP":
        out = _web_image(im)
        if _lossless_webp(data):
            out.save(buf, "WEBP", lossless=True, quality=60, method=WEBP_METHOD, **extra)
        else:
            out.save(buf, "WEBP", quality=JPEG_QUALITY, method=WEBP_METHOD, **extra)
    else:  # AVIF
        out = _web_image(im)
        out.save(buf, "AVIF", quality=80, speed=8, **extra)
    return Variant("original", buf.getvalue(), out.width, out.height, fmt, CONTENT_TYPES[fmt])


def dominant_color(im: Image.Image) -> str:
    """The most common of five colours of a small copy, as "#rrggbb"; transparent pixels do not count."""
    small = im.copy()
    small.thumbnail((64, 64), Image.Resampling.BOX)
    if small.mode == "RGBA":
        pixels = np.asarray(small)
        opaque = pixels[pixels[..., 3] >= 128][:, :3]
        if not len(opaque):
            return ""
        small = Image.fromarray(np.ascontiguousarray(opaque[None, :, :]))
    small = small.convert("RGB")
    quantized = small.quantize(colors=5, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    _count, index = max(quantized.getcolors() or [(1, 0)])
    palette = quantized.getpalette() or [0, 0, 0]
    r, g, b = palette[index * 3 : index * 3 + 3]
    return f"#{r:02x}{g:02x}{b:02x}"


def _derive(
    data: bytes,
    pool: Executor,
    *,
    max_pixels: int,
    thumbnail_sizes: tuple[int, ...],
    webp_max: int,
    png_text: Mapping[str, str] | None,
    max_bytes: int | None,
    reencode_original: bool,
) -> tuple[Variant | None, Variant, dict[int, Variant], Image.Image, ImageInfo, dict]:
    im, fmt = _open(data, max_pixels=max_pixels, max_bytes=max_bytes)
    with im:
        stored_w, stored_h = im.size
        info = _info(data, im, fmt)
        if not reencode_original and fmt == "JPEG":
            im.draft(im.mode, _fit(stored_w, stored_h, max(webp_max, *thumbnail_sizes)))
        _load(im, fmt)
        try:
            exif = exif_summary(im.getexif())
        except Exception:  # unreadable EXIF is no reason to refuse the picture
            exif = {}
        icc = im.info.get("icc_profile") or None
        ImageOps.exif_transpose(im, in_place=True)
        # Nothing from the source's metadata may reach an encoder (GIF copies all of info, JPEG its comment).
        im.info = {k: v for k, v in im.info.items() if k == "transparency"}
        source = im
        if im.mode == "CMYK":
            # Browsers show CMYK poorly: everything served is RGB, through the profile when there is one.
            source = (_to_srgb(im, icc) if icc else None) or im.convert("RGB")
            im.close()  # one full-size copy at a time
            icc = None
        if not _icc_matches(icc, source.mode):
            icc = None  # a profile for other pixels than these would only mislead the browser
        # The full-size encode runs beside the resize; the full-size images stay open until it is done.
        encoding = pool.submit(_encode_original, source, fmt, data, icc, png_text) if reencode_original else None
        work = _web_image(source)
        webp_size = _fit(work.width, work.height, webp_max)
        if not reencode_original and fmt == "JPEG":
            # A drafted decode is smaller than the original; scale to what the original would give.
            webp_size = _fit(info.width, info.height, webp_max)
            webp_size = (min(webp_size[0], work.width), min(webp_size[1], work.height))
        rendition = _resize(work, webp_size, pool)
        original = encoding.result() if encoding else None
        if work is not source:
            source.close()
        if rendition is not work:
            work.close()
    if icc and rendition.mode in ("RGB", "RGBA"):
        # Previews carry no profile, so they are converted to sRGB (what browsers assume): wide-gamut
        # photos keep their colours instead of looking washed out.
        rendition = _to_srgb(rendition, icc) or rendition
    # The full-size decode is gone: thumbnails come from the (smaller) rendition.
    big = pool.submit(_encode_webp, rendition, "webp")
    thumbs: dict[int, Variant] = {}
    source = rendition
    smallest = rendition
    for side in sorted(thumbnail_sizes, reverse=True):
        size = _fit(info.width, info.height, side)
        size = (min(size[0], source.width), min(size[1], source.height))
        if size == rendition.size:  # a small image: the thumbnail is the rendition itself, encoded once
            thumbs[side] = dataclasses.replace(big.result(), name=f"thumb_{side}")
            continue
        thumb = _resize(source, size)
        thumbs[side] = _encode_webp(thumb, f"thumb_{side}")
        source = smallest = thumb
    return original, big.result(), thumbs, smallest, info, exif


def make_derivatives(
    data: bytes,
    *,
    max_pixels: int,
    thumbnail_sizes: tuple[int, ...] = THUMBNAIL_SIZES,
    webp_max: int = WEBP_MAX,
    png_text: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    reencode_original: bool = True,
) -> Derivatives:
    """Everything served for one image, from one decode.

    Produces the re-encoded original (same format, upright, no EXIF/XMP/
    comments; ``png_text`` added when it is a PNG), a WebP rendition with the
    long side at most ``webp_max``, a WebP thumbnail per ``thumbnail_sizes``
    (long side; never enlarged), the dominant colour and an EXIF summary
    without location (see ``images.exif``). Raises ``InvalidImage`` like
    ``inspect``.

    ``reencode_original=False`` is for originals that are served as stored
    (our own generated PNGs): no full-size copy is then needed, so a JPEG is
    decoded straight at the smallest DCT scale that still covers ``webp_max``
    (``draft``), which is several times faster and smaller for large photos.

    Memory: the decoded image, then one copy at most ``webp_max`` on its long
    side and the thumbnails; the full-size copy is released before the
    thumbnails are made.
    """
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="derivatives") as pool:
        original, webp, thumbs, smallest, info, exif = _derive(
            data, pool, max_pixels=max_pixels, thumbnail_sizes=thumbnail_sizes, webp_max=webp_max,
            png_text=png_text, max_bytes=max_bytes, reencode_original=reencode_original,
        )  # fmt: skip
    return Derivatives(
        info=info,
        served_original=original,
        webp=webp,
        thumbnails=dict(sorted(thumbs.items())),
        dominant_color=dominant_color(smallest),
        exif=exif,
    )


# --- PNG text chunks ----------------------------------------------------------------------


def _check_keyword(key: str) -> None:
    try:
        encoded = key.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"PNG text keyword {key!r} must be Latin-1") from None
    if not 1 <= len(encoded) <= 79 or key != key.strip() or "\x00" in key:
        raise ValueError(f"PNG text keyword {key!r} must be 1-79 characters without leading/trailing spaces")


def _chunks(png: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, raw chunk bytes) of each chunk; raises InvalidImage on a malformed file."""
    if not png.startswith(PNG_SIGNATURE):
        raise InvalidImage("not_an_image", "not a PNG file")
    pos = len(PNG_SIGNATURE)
    while pos < len(png):
        if pos + 12 > len(png):
            raise InvalidImage("truncated", "the PNG file ends inside a chunk")
        length = int.from_bytes(png[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(png):
            raise InvalidImage("truncated", "the PNG file ends inside a chunk")
        kind = png[pos + 4 : pos + 8]
        yield kind, png[pos:end]
        pos = end
        if kind == b"IEND":
            return
    raise InvalidImage("truncated", "the PNG file has no IEND chunk")


def _text_keyword(raw: bytes) -> str:
    body = raw[8:-4]
    return body.split(b"\x00", 1)[0].decode("latin-1")


def _make_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _text_chunk(key: str, value: str) -> bytes:
    keyword = key.encode("latin-1")
    try:
        return _make_chunk(b"tEXt", keyword + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:
        pass
    text = value.encode("utf-8")
    compressed = len(text) > 1024
    if compressed:
        text = zlib.compress(text)
    # keyword, NUL, compression flag and method, empty language tag and translated keyword.
    return _make_chunk(b"iTXt", keyword + b"\x00" + bytes([int(compressed), 0]) + b"\x00\x00" + text)


def png_with_text(png_bytes: bytes, text: Mapping[str, str]) -> bytes:
    """``png_bytes`` with ``text`` in tEXt chunks (iTXt when not Latin-1), without re-encoding pixels.

    The chunks go right after the header, before the image data, so readers
    that stop early still see them. Existing text chunks with the same
    keywords are replaced; everything else is copied byte for byte.
    """
    for key in text:
        _check_keyword(key)
    chunks = list(_chunks(png_bytes))
    if not chunks or chunks[0][0] != b"IHDR":
        raise InvalidImage("corrupt", "the PNG file does not start with IHDR")
    keys = set(text)
    kept = [raw for kind, raw in chunks if not (kind in _TEXT_CHUNKS and _text_keyword(raw) in keys)]
    added = b"".join(_text_chunk(k, str(v)) for k, v in text.items())
    return PNG_SIGNATURE + kept[0] + added + b"".join(kept[1:])
