"""Pure image processing: sniffing, inspection errors, derivatives, EXIF without GPS, PNG text chunks."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, PngImagePlugin

from images import processing
from images.processing import InvalidImage, inspect, make_derivatives, png_with_text, probe, sniff

MAX_PIXELS = 50_000_000


def photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Gradients plus noise: something with detail that compresses like a photo."""
    rng = np.random.default_rng(width * height)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    arr = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 17)], axis=-1) * 200
    arr += rng.normal(0, 12, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).convert(mode)


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def exif_with_gps(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS R5"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.DateTime] = "2024:05:01 10:00:00"
    photo_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    photo_ifd[ExifTags.Base.ExposureTime] = 1 / 250
    photo_ifd[ExifTags.Base.FNumber] = 2.8
    photo_ifd[ExifTags.Base.ISOSpeedRatings] = 400
    photo_ifd[ExifTags.Base.BodySerialNumber] = "SN-0042-PRIVATE"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 3.0)
    gps[ExifTags.GPS.GPSMapDatum] = "WGS-84"
    gps[ExifTags.GPS.GPSAreaInformation] = "PRIVATE-PLACE"
    return exif


def gps_jpeg(width: int = 400, height: int = 300) -> bytes:
    """A landscape JPEG stored sideways: EXIF orientation 6 (display rotated 90 degrees), GPS, a comment, XMP."""
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>48,51N</exif:GPSLatitude></x:xmpmeta>'
    return encode(photo(width, height), "JPEG", exif=exif_with_gps(), comment=b"PRIVATE-COMMENT", xmp=xmp)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (valid CRC)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 3)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def all_variants(derived: processing.Derivatives) -> list[processing.Variant]:
    return [derived.served_original, *derived.variants.values()]


# --- sniff and inspect ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
        ("AVIF", "image/avif"),
    ],
)
def test_it_identifies_each_accepted_format_by_content(fmt, content_type):
    data = encode(photo(40, 30), fmt)
    info = inspect(data)
    assert (info.format, info.content_type, info.width, info.height) == (fmt, content_type, 40, 30)
    assert info.bytes == len(data) and len(info.sha256) == 64
    assert sniff(data) == info


def test_dimensions_are_reported_upright_after_the_exif_orientation():
    info = inspect(gps_jpeg(400, 300))
    assert (info.width, info.height) == (300, 400)


def test_an_animated_gif_is_accepted_and_flagged():
    frames = [photo(20, 20), photo(20, 20).rotate(90)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    info = inspect(data)
    assert info.format == "GIF" and info.animated


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_an_image"),
        (b"Hello, this is plain text and not a picture at all.\n" * 4, "not_an_image"),
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200, "not_an_image"),  # an executable renamed .jpg
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "not_an_image"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "unsupported_format",
        ),
        (b"<svg width='10' height='10'></svg>", "unsupported_format"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32, "unsupported_format"),
        (b"BM" + b"\x00" * 100, "unsupported_format"),
        (b"II*\x00" + b"\x00" * 100, "unsupported_format"),
    ],
    ids=["empty", "text", "elf", "exe", "svg-xml", "svg", "heic", "bmp", "tiff"],
)
def test_what_is_not_an_accepted_image_gets_its_code(data, code):
    with pytest.raises(InvalidImage) as info:
        inspect(data)
    assert info.value.code == code and info.value.message
    assert sniff(data) is None


def test_a_real_bmp_is_refused_although_pillow_could_read_it():
    with pytest.raises(InvalidImage) as info:
        inspect(encode(photo(10, 10), "BMP"))
    assert info.value.code == "unsupported_format"


def test_a_truncated_jpeg_is_reported_as_truncated():
    data = encode(photo(400, 300), "JPEG")
    with pytest.raises(InvalidImage) as info:
        inspect(data[: len(data) // 2])
    assert info.value.code == "truncated"


def test_a_truncated_png_is_reported_as_truncated():
    data = encode(photo(400, 300), "PNG")
    with pytest.raises(InvalidImage) as info:
        inspect(data[: len(data) // 2])
    assert info.value.code == "truncated"


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (12_000, 10_000)], ids=["huge", "over-pillow"])
def test_a_png_claiming_huge_dimensions_is_refused_as_a_decompression_bomb(width, height):
    data = png_bomb(width, height)
    assert len(data) < 100
    with pytest.raises(InvalidImage) as info:
        inspect(data, max_pixels=200_000_000)
    assert info.value.code == "too_many_pixels"


def test_the_pixel_limit_is_a_parameter():
    data = encode(Image.new("RGB", (2000, 1000), "white"), "PNG")  # a solid image compresses to almost nothing
    assert len(data) < 20_000
    assert inspect(data, max_pixels=2_000_000).width == 2000
    with pytest.raises(InvalidImage) as info:
        inspect(data, max_pixels=1_999_999)
    assert info.value.code == "too_many_pixels"
    with pytest.raises(InvalidImage):
        make_derivatives(data, max_pixels=1_000_000)


def test_the_byte_limit_is_a_parameter():
    data = encode(photo(100, 100), "PNG")
    with pytest.raises(InvalidImage) as info:
        inspect(data, max_bytes=len(data) - 1)
    assert info.value.code == "too_large"


def test_probe_reads_format_and_size_from_the_header_without_decoding(monkeypatch):
    formats = {fmt: encode(photo(40, 30), fmt) for fmt in ("JPEG", "PNG", "WEBP", "GIF", "AVIF")}
    rotated = gps_jpeg(400, 300)
    truncated = encode(photo(400, 300), "JPEG")[:3000]

    def decode(self, *args, **kwargs):
        raise AssertionError("probe decoded the pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    monkeypatch.setattr(Image.Image, "load", decode)
    for fmt, data in formats.items():
        info = probe(data)
        assert (info.format, info.width, info.height, info.bytes) == (fmt, 40, 30, len(data))
    assert (probe(rotated).width, probe(rotated).height) == (300, 400)
    assert probe(truncated).width == 400  # the header is whole: what follows is the worker's to find


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"Hello, plain text\n" * 10, "not_an_image"),
        (b"<svg width='10' height='10'></svg>", "unsupported_format"),
        (png_bomb(100_000, 100_000), "too_many_pixels"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "corrupt"),
    ],
    ids=["text", "svg", "bomb", "no-header"],
)
def test_probe_refuses_by_content_and_by_the_pixels_a_header_claims(data, code):
    with pytest.raises(InvalidImage) as info:
        probe(data, max_pixels=50_000_000)
    assert info.value.code == code


# --- derivatives ------------------------------------------------------------------------------


def test_derivatives_of_a_rotated_jpeg_are_upright_and_the_right_size():
    derived = make_derivatives(gps_jpeg(1600, 1200), max_pixels=MAX_PIXELS)
    assert (derived.info.width, derived.info.height) == (1200, 1600)
    assert (derived.served_original.width, derived.served_original.height) == (1200, 1600)
    assert derived.served_original.format == "JPEG"
    assert (derived.webp.width, derived.webp.height) == (1200, 1600)
    assert (derived.thumbnails[768].width, derived.thumbnails[768].height) == (576, 768)
    assert (derived.thumbnails[256].width, derived.thumbnails[256].height) == (192, 256)
    for variant in all_variants(derived):
        opened = Image.open(io.BytesIO(variant.data))
        assert opened.size == (variant.width, variant.height)
        assert opened.format == variant.format
        assert ExifTags.Base.Orientation not in opened.getexif()


def test_no_derivative_carries_gps_or_other_metadata():
    data = gps_jpeg()
    assert b"WGS-84" in data and b"PRIVATE-PLACE" in data  # the source does
    derived = make_derivatives(data, max_pixels=MAX_PIXELS)
    for variant in all_variants(derived):
        opened = Image.open(io.BytesIO(variant.data))
        assert opened.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert len(opened.getexif()) == 0
        for marker in (b"WGS-84", b"PRIVATE-PLACE", b"PRIVATE-COMMENT", b"GPSLatitude", b"SN-0042", b"Exif\x00\x00"):
            assert marker not in variant.data, (variant.name, marker)


def test_the_exif_summary_keeps_camera_facts_and_drops_location_and_serials():
    exif = make_derivatives(gps_jpeg(), max_pixels=MAX_PIXELS).exif
    assert exif["Make"] == "Canon" and exif["Model"] == "EOS R5"
    assert exif["ExposureTime"] == "1/250" and exif["FNumber"] == 2.8 and exif["ISOSpeedRatings"] == 400
    assert exif["DateTime"] == "2024:05:01 10:00:00"
    text = json.dumps(exif)
    assert "GPS" not in text and "48" not in text and "SN-0042" not in text


def test_thumbnails_and_rendition_never_upscale():
    derived = make_derivatives(encode(photo(120, 80), "PNG"), max_pixels=MAX_PIXELS)
    assert (derived.webp.width, derived.webp.height) == (120, 80)
    assert {s: (v.width, v.height) for s, v in derived.thumbnails.items()} == {256: (120, 80), 768: (120, 80)}


def test_a_large_image_gets_a_2048_rendition_and_both_thumbnails():
    derived = make_derivatives(encode(photo(3000, 1500), "JPEG", quality=85), max_pixels=MAX_PIXELS)
    assert (derived.webp.width, derived.webp.height) == (2048, 1024)
    assert (derived.thumbnails[768].width, derived.thumbnails[768].height) == (768, 384)
    assert (derived.thumbnails[256].width, derived.thumbnails[256].height) == (256, 128)
    assert (derived.served_original.width, derived.served_original.height) == (3000, 1500)
    assert set(derived.variants) == {"webp", "thumb_256", "thumb_768"}
    assert all(v.content_type == "image/webp" for v in derived.variants.values())


def test_without_reencoding_a_large_jpeg_is_decoded_at_a_reduced_scale():
    derived = make_derivatives(
        encode(photo(5000, 2500), "JPEG", quality=85), max_pixels=MAX_PIXELS, reencode_original=False
    )
    assert derived.served_original is None
    assert (derived.info.width, derived.info.height) == (5000, 2500)
    assert (derived.webp.width, derived.webp.height) == (2048, 1024)
    assert (derived.thumbnails[256].width, derived.thumbnails[256].height) == (256, 128)


def test_png_text_is_added_to_a_png_original_and_nothing_else_survives():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "PRIVATE-COMMENT")
    source = encode(photo(64, 64), "PNG", pnginfo=info, exif=exif_with_gps(1))
    derived = make_derivatives(source, max_pixels=MAX_PIXELS, png_text={"prompt": "a fox ☃", "seed": "7"})
    original = derived.served_original
    assert original.format == "PNG"
    opened = Image.open(io.BytesIO(original.data))
    assert opened.text == {"prompt": "a fox ☃", "seed": "7"}
    assert b"PRIVATE-COMMENT" not in original.data and b"WGS-84" not in original.data
    assert np.array_equal(np.asarray(opened.convert("RGB")), np.asarray(Image.open(io.BytesIO(source)).convert("RGB")))


def test_alpha_is_kept_and_transparent_pixels_do_not_count_for_the_dominant_colour():
    im = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    im.paste((200, 30, 30, 255), (0, 0, 60, 100))  # 30% opaque red, the rest transparent black
    derived = make_derivatives(encode(im, "PNG"), max_pixels=MAX_PIXELS)
    assert Image.open(io.BytesIO(derived.webp.data)).mode == "RGBA"
    assert Image.open(io.BytesIO(derived.served_original.data)).mode == "RGBA"
    r, g, b = (int(derived.dominant_color[i : i + 2], 16) for i in (1, 3, 5))
    assert r > 150 and g < 80 and b < 80


def test_the_dominant_colour_is_the_most_common_colour():
    im = Image.new("RGB", (100, 100), (20, 60, 200))
    im.paste((250, 250, 250), (0, 0, 30, 100))
    derived = make_derivatives(encode(im, "PNG"), max_pixels=MAX_PIXELS)
    assert derived.dominant_color == "#143cc8"


def test_a_gif_original_is_its_first_frame_without_comments():
    frames = [Image.new("P", (30, 20), 1), Image.new("P", (30, 20), 2)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], comment=b"PRIVATE-COMMENT")
    derived = make_derivatives(data, max_pixels=MAX_PIXELS)
    assert derived.served_original.format == "GIF"
    assert b"PRIVATE-COMMENT" not in derived.served_original.data
    assert getattr(Image.open(io.BytesIO(derived.served_original.data)), "n_frames", 1) == 1


@pytest.mark.parametrize(
    ("image", "fmt"),
    [
        (photo(50, 40, "CMYK"), "JPEG"),
        (photo(50, 40, "L"), "JPEG"),
        (photo(50, 40, "P"), "PNG"),
        (photo(50, 40, "LA"), "PNG"),
        (Image.fromarray(np.arange(2000, dtype=np.uint16).reshape(40, 50) * 30), "PNG"),
        (photo(50, 40), "WEBP"),
        (photo(50, 40), "AVIF"),
    ],
    ids=["cmyk-jpeg", "grey-jpeg", "palette-png", "grey-alpha-png", "16-bit-png", "webp", "avif"],
)
def test_every_mode_and_format_gives_servable_variants(image, fmt):
    derived = make_derivatives(encode(image, fmt), max_pixels=MAX_PIXELS)
    assert derived.served_original.format == fmt
    for variant in all_variants(derived):
        opened = Image.open(io.BytesIO(variant.data))
        opened.load()
        assert opened.size == (50, 40)
    assert derived.dominant_color.startswith("#") and len(derived.dominant_color) == 7


def test_a_16_bit_png_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 256, dtype=np.float64)[None, :].repeat(16, axis=0)).astype(np.uint16)
    derived = make_derivatives(encode(Image.fromarray(ramp), "PNG"), max_pixels=MAX_PIXELS)
    webp = np.asarray(Image.open(io.BytesIO(derived.webp.data)).convert("L"), np.float32)
    assert webp[:, :20].mean() < 30 and webp[:, -20:].mean() > 225 and 100 < webp[:, 118:138].mean() < 160


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile whose red and green primaries are swapped: red pixels under it mean green."""
    raw = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", raw[128:132])[0]
    offsets = {bytes(raw[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    r, g = offsets[b"rXYZ"], offsets[b"gXYZ"]
    raw[r + 4 : r + 12], raw[g + 4 : g + 12] = raw[g + 4 : g + 12], raw[r + 4 : r + 12]
    # Renamed, so it is not taken for sRGB.
    return bytes(raw).replace("sRGB".encode("utf-16-be"), "swap".encode("utf-16-be")).replace(b"sRGB", b"swap")


def test_previews_are_converted_to_srgb_and_the_original_keeps_its_profile():
    profile = swapped_primaries_profile()
    data = encode(Image.new("RGB", (64, 48), (220, 20, 20)), "PNG", icc_profile=profile)
    derived = make_derivatives(data, max_pixels=MAX_PIXELS)
    for variant in derived.variants.values():
        opened = Image.open(io.BytesIO(variant.data))
        r, g, _b = opened.convert("RGB").getpixel((10, 10))
        assert g > 180 and r < 60, variant.name  # the profile's "red" is green in sRGB
        assert not opened.info.get("icc_profile")
    assert Image.open(io.BytesIO(derived.served_original.data)).info["icc_profile"] == profile


def test_a_cmyk_jpeg_is_served_as_rgb_without_a_cmyk_profile():
    derived = make_derivatives(encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"), max_pixels=MAX_PIXELS)
    original = Image.open(io.BytesIO(derived.served_original.data))
    assert original.mode == "RGB" and not original.info.get("icc_profile")
    r, g, b = original.getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60


def test_a_profile_that_does_not_match_the_pixels_is_dropped():
    data = encode(photo(40, 30, "L"), "PNG", icc_profile=swapped_primaries_profile())
    derived = make_derivatives(data, max_pixels=MAX_PIXELS)
    assert not Image.open(io.BytesIO(derived.served_original.data)).info.get("icc_profile")


def test_derivatives_refuse_what_inspect_refuses():
    with pytest.raises(InvalidImage) as info:
        make_derivatives(b"<svg></svg>", max_pixels=MAX_PIXELS)
    assert info.value.code == "unsupported_format"


# --- PNG text chunks --------------------------------------------------------------------------


def test_png_with_text_adds_text_chunks_without_touching_the_pixels():
    source = encode(photo(64, 48), "PNG")
    out = png_with_text(source, {"prompt": "a red fox", "seed": "42", "parameters": '{"style": "photo"}'})
    opened = Image.open(io.BytesIO(out))
    assert opened.text == {"prompt": "a red fox", "seed": "42", "parameters": '{"style": "photo"}'}
    assert np.array_equal(np.asarray(opened), np.asarray(Image.open(io.BytesIO(source))))
    assert out.index(b"tEXt") < out.index(b"IDAT")


def test_png_with_text_uses_itxt_for_non_latin_text_and_replaces_same_keywords():
    first = png_with_text(encode(photo(8, 8), "PNG"), {"prompt": "old", "keep": "me"})
    second = png_with_text(first, {"prompt": "雪の中の狐 " * 300})
    opened = Image.open(io.BytesIO(second))
    assert opened.text == {"keep": "me", "prompt": "雪の中の狐 " * 300}
    assert b"iTXt" in second and second.count(b"prompt") == 1


def test_png_with_text_refuses_what_is_not_a_png_and_bad_keywords():
    with pytest.raises(InvalidImage):
        png_with_text(encode(photo(8, 8), "JPEG"), {"prompt": "x"})
    with pytest.raises(InvalidImage) as info:
        png_with_text(encode(photo(8, 8), "PNG")[:-20], {"prompt": "x"})
    assert info.value.code == "truncated"
    with pytest.raises(ValueError, match="keyword"):
        png_with_text(encode(photo(8, 8), "PNG"), {"": "x"})


@pytest.mark.parametrize(
    ("source", "target"),
    [((1000, 750), (512, 384)), ((3000, 2000), (640, 427)), ((400, 1300), (236, 768))],
    ids=["one-step", "reduce-then-lanczos", "portrait"],
)
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_resize_split_between_threads_gives_the_pixels_of_one_piece_without_a_seam(source, target, mode):
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (source[1], source[0], len(mode)), dtype=np.uint8)
    if mode == "RGBA":  # opaque, with a transparent corner
        pixels[..., 3] = 255
        pixels[: source[1] // 3, : source[0] // 3, 3] = 0
    im = Image.fromarray(pixels, mode)
    one_piece = processing._resize(im, target)
    with ThreadPoolExecutor(2) as pool:
        split = processing._resize(im, target, pool)
    assert split.size == one_piece.size == target and split.mode == mode

    def off_by(a: Image.Image, b: Image.Image) -> int:
        diff = np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int))
        if a.mode == "RGBA":
            # Un-premultiplying magnifies a one-level difference in nearly transparent pixels: look where it shows.
            diff = diff[np.asarray(a)[..., 3] >= 250]
        return int(diff.max())

    # At most one level apart: the band's filter centres are computed from its own offset, which can
    # round differently in the last bit; a seam would show as a whole row far off.
    assert off_by(split, one_piece) <= 1
    if mode == "RGB":  # and what Pillow's own two-step resize makes
        assert off_by(split, im.resize(target, Image.Resampling.LANCZOS, reducing_gap=processing.REDUCING_GAP)) <= 1
