"""Benchmark: ``make_derivatives`` against a naive Pillow version and pyvips, and builtin render times.

Run from the repository root with the virtualenv: ``python -m bench.bench_derivatives``.
Prints figures only (no assertions). Each derivative variant runs in a fresh
subprocess so its peak memory (VmHWM from /proc, which counts Pillow's C
buffers that tracemalloc cannot see) is its own. Inputs: the 4000x3000 test
photo as JPEG, PNG and WebP (``INPUTS``). ``webp_methods`` and ``png_levels``
measure the encoder settings processing.py and the builtin renderer use.

Options: ``--runs N`` (default 5), ``--no-render`` to skip the renderer timings.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from images.processing import JPEG_QUALITY, WEBP_METHOD, WEBP_QUALITY, make_derivatives

SIZE = (4000, 3000)
THUMBS = (256, 768)
WEBP_MAX = 2048
VARIANTS = ("naive", "make_derivatives", "make_derivatives(reencode_original=False)", "pyvips",
            "pyvips(shrink-on-load)")  # fmt: skip
# Input format → the variants measured on it (naive, the reference, on the JPEG only).
INPUTS = {"JPEG": VARIANTS, "PNG": VARIANTS[1:], "WEBP": VARIANTS[1:]}


def test_photo() -> bytes:
    """A 4000x3000 JPEG with detail everywhere: gradients, waves and noise (q90)."""
    w, h = SIZE
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    arr = np.empty((h, w, 3), np.float32)
    arr[..., 0] = 128 + 90 * np.sin(x / 53) * np.cos(y / 71)
    arr[..., 1] = 255 * x / w
    arr[..., 2] = 255 * y / h
    arr += rng.normal(0, 18, (h, w, 1)).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_input(fmt: str) -> bytes:
    """The test photo's pixels as ``fmt`` (JPEG q90; PNG at level 1; WebP q90)."""
    data = test_photo()
    if fmt == "JPEG":
        return data
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buf, fmt, **({"compress_level": 1} if fmt == "PNG" else {"quality": 90}))
    return buf.getvalue()


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = min(1.0, long_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def naive(data: bytes) -> dict[str, bytes]:
    """What one writes first: a full decode per output, every size resized from full size.

    The encoders' settings are make_derivatives' own, so the figures compare the structure only.
    """
    out = {}

    def decode() -> Image.Image:
        return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")

    buf = io.BytesIO()
    decode().save(buf, "JPEG", quality=JPEG_QUALITY)
    out["original"] = buf.getvalue()
    for name, side in [("webp", WEBP_MAX), *((f"thumb_{s}", s) for s in THUMBS)]:
        im = decode()
        buf = io.BytesIO()
        im.resize(_fit(im.size, side), Image.Resampling.LANCZOS).save(
            buf, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD
        )
        out[name] = buf.getvalue()
    im = decode()
    im.thumbnail((64, 64))
    im.quantize(colors=5)
    return out


def _vips():
    from bench.vips_derivatives import vips_derivatives

    return vips_derivatives


def webp_methods(runs: int = 3) -> dict[str, dict[int, dict[str, float]]]:
    """WebP encode time (median ms) and size (bytes) of each method 0-6 at our quality, on two kinds of picture.

    ``photo``: the 2048x1536 rendition of the test photo; ``generated``: a 1024x1024 builtin render.
    """
    photo = Image.open(io.BytesIO(test_photo())).resize((2048, 1536), Image.Resampling.LANCZOS)
    pictures = {"photo 2048x1536": photo, "generated 1024x1024": Image.open(io.BytesIO(generated_png()))}
    out: dict[str, dict[int, dict[str, float]]] = {}
    for name, picture in pictures.items():
        picture.load()
        out[name] = {}
        for method in range(7):
            times, size = [], 0
            for _ in range(runs):
                buf = io.BytesIO()
                start = time.perf_counter()
                picture.save(buf, "WEBP", quality=WEBP_QUALITY, method=method)
                times.append(time.perf_counter() - start)
                size = len(buf.getvalue())
            out[name][method] = {"ms": statistics.median(times) * 1000, "bytes": size}
    return out


def generated_png(size: int = 1024) -> bytes:
    """A builtin render, as the worker gets it."""
    from images.providers.base import RenderRequest
    from images.providers.builtin import BuiltinProvider

    request = RenderRequest(prompt="a calm mountain lake at sunset", width=size, height=size, seed=7)
    return BuiltinProvider().generate(request, on_progress=lambda p: None, should_cancel=lambda: False)[0].data


# PNG encoder settings measured for generated images: (zlib level, zlib strategy or None for the default).
PNG_SETTINGS = ((6, None), (1, None), (1, zlib.Z_RLE), (2, None), (3, None))


def png_levels(runs: int = 5) -> dict[str, dict[str, float]]:
    """PNG encode time (median ms) and size of a 1024x1024 builtin render at each of ``PNG_SETTINGS``."""
    picture = Image.open(io.BytesIO(generated_png()))
    picture.load()
    out: dict[str, dict[str, float]] = {}
    for level, strategy in PNG_SETTINGS:
        extra = {"compress_type": strategy} if strategy is not None else {}
        times, size = [], 0
        for _ in range(runs):
            buf = io.BytesIO()
            start = time.perf_counter()
            picture.save(buf, "PNG", compress_level=level, **extra)
            times.append(time.perf_counter() - start)
            size = len(buf.getvalue())
        name = f"level {level}" + (" Z_RLE" if strategy == zlib.Z_RLE else "")
        out[name] = {"ms": statistics.median(times) * 1000, "bytes": size}
    return out


def _memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(variant: str, path: str, runs: int) -> None:
    """Run one variant ``runs`` times in this (fresh) process and print its figures as JSON."""
    data = Path(path).read_bytes()
    work = {
        "naive": lambda: naive(data),
        "make_derivatives": lambda: make_derivatives(data, max_pixels=50_000_000),
        "make_derivatives(reencode_original=False)": lambda: make_derivatives(
            data, max_pixels=50_000_000, reencode_original=False
        ),
        "pyvips": lambda: _vips()(data),
        "pyvips(shrink-on-load)": lambda: _vips()(data, reencode_original=False),
    }[variant]
    baseline = _memory_kib("VmRSS")
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_kib": _memory_kib("VmHWM"), "baseline_kib": baseline}))


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def bench_derivatives(runs: int) -> None:
    data = test_photo()
    load = os.getloadavg()[0]
    print(f"Derivatives of a {SIZE[0]}x{SIZE[1]} JPEG ({len(data) / 1e6:.1f} MB), {runs} runs each, "
          f"every run in a fresh process, on {os.cpu_count()} CPUs (load average {load:.1f})\n")  # fmt: skip
    results: dict[str, dict] = {v: {"wall": [], "cpu": [], "peak_kib": 0, "baseline_kib": 0} for v in VARIANTS}
    with tempfile.NamedTemporaryFile(suffix=".jpg") as tmp:
        tmp.write(data)
        tmp.flush()
        # Rounds alternate the variants, one fresh process per run, so a busy moment on a
        # shared machine falls on all of them rather than on one.
        for _ in range(runs):
            for variant in VARIANTS:
                proc = subprocess.run(
                    [sys.executable, "-m", "bench.bench_derivatives", "--child", variant, tmp.name, "--runs", "1"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                r = results[variant]
                r["wall"] += run["wall"]
                r["cpu"] += run["cpu"]
                if run["peak_kib"] - run["baseline_kib"] > r["peak_kib"] - r["baseline_kib"]:
                    r["peak_kib"], r["baseline_kib"] = run["peak_kib"], run["baseline_kib"]
    header = ["wall ms (median)", "wall ms (min)", "CPU ms (median)", "peak RSS MiB", "above baseline MiB"]
    print(f"| {'variant':42} | " + " | ".join(header) + " |")
    print(f"|{'-' * 44}|" + "|".join("-" * (len(h) + 2) for h in header) + "|")
    for variant, r in results.items():
        peak, above = r["peak_kib"] / 1024, (r["peak_kib"] - r["baseline_kib"]) / 1024
        print(f"| {variant:42} | {_ms(r['wall']):16.0f} | {min(r['wall']) * 1000:13.0f} | {_ms(r['cpu']):15.0f} "
              f"| {peak:12.0f} | {above:18.0f} |")  # fmt: skip
    naive_r, ours = results["naive"], results["make_derivatives"]
    mem = (naive_r["peak_kib"] - naive_r["baseline_kib"]) / max(1, ours["peak_kib"] - ours["baseline_kib"])
    wall, cpu = _ms(naive_r["wall"]) / _ms(ours["wall"]), _ms(naive_r["cpu"]) / _ms(ours["cpu"])
    print(f"\nnaive / make_derivatives: {wall:.2f}x the wall time, {cpu:.2f}x the CPU time, "
          f"{mem:.2f}x the memory above baseline")  # fmt: skip
    scale = next((k for k in (8, 4, 2) if max(SIZE) / k >= WEBP_MAX), 1)
    print(f"reencode_original=False skips the full-size encode; JPEG draft here decodes at 1/{scale} scale "
          f"(the smallest DCT scale whose long side is still >= {WEBP_MAX}).")  # fmt: skip


def bench_render(runs: int) -> None:
    from images.providers.base import RenderRequest
    from images.providers.builtin import BuiltinProvider
    from images.styles import STYLES

    provider = BuiltinProvider()
    print(f"\nBuiltin render, PNG bytes out, prompt 'a calm mountain lake at sunset', median of {runs} seeds "
          f"(load average {os.getloadavg()[0]:.1f}):\n")  # fmt: skip
    print("| style          | 512 wall ms | 512 CPU ms | 1024 wall ms | 1024 CPU ms |")
    print("|----------------|-------------|------------|--------------|-------------|")
    for style in ["", *STYLES]:
        row = []
        for size in (512, 1024):
            wall, cpu = [], []
            for seed in range(runs):
                request = RenderRequest(
                    prompt="a calm mountain lake at sunset", width=size, height=size, seed=seed, style=style
                )
                start, start_cpu = time.perf_counter(), time.process_time()
                provider.generate(request, on_progress=lambda p: None, should_cancel=lambda: False)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            row += [_ms(wall), _ms(cpu)]
        print(f"| {style or '(none)':14} | {row[0]:11.0f} | {row[1]:10.0f} | {row[2]:12.0f} | {row[3]:11.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-render", action="store_true", help="skip the builtin renderer timings")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.runs)
        return
    bench_derivatives(args.runs)
    if not args.no_render:
        bench_render(max(3, args.runs // 2 + 1))


if __name__ == "__main__":
    main()
