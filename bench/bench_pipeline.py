"""Pipeline overhead: end-to-end job latency minus render time, at 512x512, median over N jobs.

    .venv/bin/python -m bench.bench_pipeline            # embedded broker, then SQS (moto server)
    .venv/bin/python -m bench.bench_pipeline --mode embedded --jobs 20

Each mode runs in a fresh process with its own var/ folder, database and
worker, so the figures are the pipeline as a user runs it. Latency is
``finished_at - created_at`` of each job (queueing, pickup, claim, render,
derivatives, storage, commit); render time is the builtin provider rendering
the same request in this process; the difference is what the pipeline adds.
Jobs are submitted one at a time, each after the previous ended.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SIZE = 512


def _run_mode(mode: str, jobs: int, *, tree: Path = BASE_DIR) -> dict:
    """Run this module with --child in a fresh environment; returns its JSON figures.

    ``tree``: the checkout whose code runs the jobs (another commit's, for a before/after run).
    """
    from tests.support.moto import aws_env, boto3_client, moto_server

    with tempfile.TemporaryDirectory(prefix=f"imagegen-bench-{mode}-") as var:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "IMAGE_S3"))}
        env.update(
            DJANGO_SETTINGS_MODULE="imagegen.settings",
            IMAGEGEN_VAR_DIR=var,
            SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",  # noqa: S106 - a throwaway key for a benchmark child
            ALLOWED_HOSTS="localhost",
            LOG_LEVEL="WARNING",
        )
        if mode == "embedded":
            return _child(env, jobs, tree=tree)
        if mode == "postgresql":
            with _database(os.environ["BENCH_DATABASE_URL"]) as url:
                return _child({**env, "DATABASE_URL": url}, jobs)
        if mode == "upload40mp":
            return _child(env, jobs, "--upload")
        with moto_server() as endpoint:
            boto3_client("sqs", endpoint).create_queue(QueueName="imagegen-bench")
            boto3_client("s3", endpoint).create_bucket(Bucket="imagegen-bench")
            env.update(aws_env(endpoint), CELERY_BROKER_URL="sqs://", SQS_QUEUE_NAME="imagegen-bench",
                       IMAGE_S3_BUCKET="imagegen-bench")  # fmt: skip
            return _child(env, jobs, tree=tree)


@contextlib.contextmanager
def _database(server_url: str) -> Iterator[str]:
    """A fresh database on the PostgreSQL server at ``server_url``, dropped afterwards."""
    import psycopg

    name = f"imagegen_bench_pipeline_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _child(env: dict[str, str], jobs: int, *extra: str, tree: Path = BASE_DIR) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_pipeline", "--child", "--jobs", str(jobs), *extra]
    result = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def _measure(jobs: int) -> dict:
    """In the child: migrate, start a worker, submit jobs one by one, collect timings."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import User
    from images.models import Generation
    from images.providers import get_provider
    from images.providers.base import RenderRequest
    from images.services.generations import generation_create, generation_wait
    from images.services.resolver import GenerationParams

    user = User.objects.create_user("bench@example.com", "bench-password-123")
    user.tier = "enterprise"  # unlimited quota
    user.save()
    log = open(Path(os.environ["IMAGEGEN_VAR_DIR"]) / "worker.log", "w")  # noqa: SIM115 - lives as long as the worker
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--concurrency", "1", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    provider = get_provider("builtin")
    latencies, renders, pickups, answers, backoff_answers = [], [], [], [], []
    try:
        for index in range(jobs + 1):  # the first job warms the worker up and is not counted
            params = GenerationParams(prompt=f"teal harbour at dusk {index}", width=SIZE, height=SIZE,
                                      provider="builtin", model="builtin-v1", seed=index)  # fmt: skip
            generation, _ = generation_create(user=user, params=params)
            # What a client holding ``Prefer: wait`` sees: the service's wait (odd jobs), or the back-off
            # poll it used before (even jobs), each measured from the job's end to the wait's return.
            waiter = generation_wait if index % 2 else _backoff_wait
            generation = waiter(user=user, generation_id=generation.pk, seconds=120)
            answered = time.time()
            if generation.status != "succeeded":
                raise RuntimeError(f"job {index} ended {generation.status}: {generation.error_message}")
            started = time.perf_counter()
            provider.generate(
                RenderRequest(prompt=params.prompt, width=SIZE, height=SIZE, seed=index, model="builtin-v1"),
                on_progress=lambda p: None,
                should_cancel=lambda: False,
            )
            render = time.perf_counter() - started
            if not index:
                warm_cpu = _cpu_seconds(worker.pid)
            if index:
                (answers if index % 2 else backoff_answers).append(answered - generation.finished_at.timestamp())
                latencies.append((generation.finished_at - generation.created_at).total_seconds())
                pickups.append((generation.started_at - generation.created_at).total_seconds())
                renders.append(render)
        worker_cpu = _cpu_seconds(worker.pid) - warm_cpu
        # Then idle: what the worker (main process and pool child) burns waiting for the next job.
        idle_seconds = min(10.0, jobs / 5)
        idle_before, idle_started = _tree_cpu_seconds(worker.pid), time.monotonic()
        time.sleep(idle_seconds)
        idle_cpu = (_tree_cpu_seconds(worker.pid) - idle_before) / (time.monotonic() - idle_started)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    overheads = [lat - ren for lat, ren in zip(latencies, renders, strict=True)]
    return {
        "jobs": len(latencies),
        "latency_ms": statistics.median(latencies) * 1000,
        "render_ms": statistics.median(renders) * 1000,
        "overhead_ms": statistics.median(overheads) * 1000,
        "overhead_p90_ms": sorted(overheads)[int(len(overheads) * 0.9) - 1] * 1000,
        # From the row's creation to a worker claiming it: the broker's share of the overhead.
        "pickup_ms": statistics.median(pickups) * 1000,
        "pickup_p90_ms": sorted(pickups)[int(len(pickups) * 0.9) - 1] * 1000,
        "pickups_ms": sorted(round(p * 1000) for p in pickups),
        "done": Generation.objects.filter(status="succeeded").count(),
        "answer_ms": statistics.median(answers) * 1000,
        "answer_p90_ms": _p90(answers) * 1000,
        "backoff_answer_ms": statistics.median(backoff_answers) * 1000,
        "backoff_answer_p90_ms": _p90(backoff_answers) * 1000,
        "bare_kombu": _bare_kombu(jobs) if os.environ.get("CELERY_BROKER_URL", "").startswith("sqs") else None,
        # The worker's main process only receives and acknowledges messages: its CPU is the broker's cost.
        "worker_main_cpu_ms_per_job": worker_cpu * 1000 / jobs,
        "worker_idle_cpu_ms_per_s": idle_cpu * 1000,
        "idle_seconds": idle_seconds,
    }


UPLOAD_SIZE = (7744, 5168)  # 40 MP, a full-frame camera's
OVER_LIMIT_SIZE = (8000, 8000)  # 64 MP: over the default MAX_IMAGE_PIXELS (50 MP)


def _big_jpeg(size: tuple[int, int]) -> bytes:
    """A photo-like JPEG (q90) of ``size``: gradients and grain, made in bands to keep this process small."""
    import io

    import numpy as np
    from PIL import Image

    width, height = size
    rng = np.random.default_rng(1)
    canvas = Image.new("RGB", size)
    x = np.arange(width, dtype=np.float32)
    for top in range(0, height, 512):
        rows = min(512, height - top)
        y = np.arange(top, top + rows, dtype=np.float32)[:, None]
        band = np.empty((rows, width, 3), np.float32)
        band[..., 0] = 128 + 90 * np.sin(x / 97) * np.cos(y / 131)
        band[..., 1] = 255 * x / width
        band[..., 2] = 255 * y / height
        band += rng.normal(0, 10, (rows, width, 1)).astype(np.float32)
        canvas.paste(Image.fromarray(np.clip(band, 0, 255).astype(np.uint8)), (0, top))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _measure_upload() -> dict:
    """In the child: a worker (solo pool: the process that decodes is the one measured) processes a 40 MP upload.

    Reports the worker's resident memory when idle after a small warm-up upload, and its peak
    (VmHWM) after the 40 MP one; and that an upload over the pixel limit is refused.
    """
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import User
    from imagegen.errors import DomainError
    from images.models import Image
    from images.services.uploads import image_upload

    user = User.objects.create_user("bench@example.com", "bench-password-123")
    user.tier = "enterprise"
    user.save()
    settings.MAX_UPLOAD_BYTES = 64 * 1024 * 1024
    log = open(Path(os.environ["IMAGEGEN_VAR_DIR"]) / "worker.log", "w")  # noqa: SIM115 - lives as long as the worker
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool", "solo", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def upload(name: str, data: bytes) -> Image:
        (image,) = image_upload(user=user, files=[SimpleUploadedFile(name, data)])
        deadline = time.monotonic() + 300
        while image.processing == Image.Processing.PENDING and time.monotonic() < deadline:
            time.sleep(0.05)
            image.refresh_from_db()
        if image.processing != Image.Processing.READY:
            raise RuntimeError(f"{name} ended {image.processing}: {image.processing_error}")
        return image

    try:
        upload("warm-up.jpg", _big_jpeg((1200, 800)))
        idle_kib = _memory_kib(worker.pid, "VmRSS")
        data = _big_jpeg(UPLOAD_SIZE)
        started = time.monotonic()
        image = upload("forty-megapixels.jpg", data)
        seconds = time.monotonic() - started
        peak_kib = _memory_kib(worker.pid, "VmHWM")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    try:
        image_upload(user=user, files=[SimpleUploadedFile("too-big.jpg", _big_jpeg(OVER_LIMIT_SIZE))])
        refused = ""
    except DomainError as exc:
        refused = getattr(exc, "code", type(exc).__name__)
    return {
        "size": f"{UPLOAD_SIZE[0]}x{UPLOAD_SIZE[1]}",
        "jpeg_bytes": len(data),
        "idle_mib": idle_kib / 1024,
        "peak_mib": peak_kib / 1024,
        "seconds": seconds,
        "variants": sorted(image.variants),
        "over_limit_refused": refused,
        "max_image_pixels": settings.MAX_IMAGE_PIXELS,
    }


def _memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.9) - 1)]


def _backoff_wait(*, user, generation_id, seconds: float):
    """The wait before LISTEN/NOTIFY: reads backing off from 50 ms by half each time up to 0.5 s."""
    from imagegen.polling import poll
    from images.models import Generation
    from images.services.generations import generation_get

    poll(
        lambda: Generation.objects.filter(pk=generation_id).values_list("status", flat=True).first(),
        lambda status: status is None or status in Generation.FINISHED,
        seconds=seconds,
    )
    return generation_get(user=user, generation_id=generation_id)


def _bare_kombu(messages: int) -> dict:
    """Send → receive of a bare kombu consumer on the same SQS, same transport and options as the worker.

    A thread blocks in ``SimpleQueue.get`` while this one sends a timestamp 50-300 ms later, so
    each message lands on a waiting long poll, as a job's does.
    """
    from django.conf import settings
    from kombu import Connection

    def connection() -> Connection:
        return Connection(settings.CELERY_BROKER_URL, transport=settings.CELERY_BROKER_TRANSPORT,
                          transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS)  # fmt: skip

    latencies: list[float] = []
    ready = threading.Event()

    def consume() -> None:
        with connection() as conn, conn.SimpleQueue("imagegen-bench-bare") as queue:
            ready.set()
            for _ in range(messages):
                message = queue.get(block=True, timeout=60)
                latencies.append(time.time() - message.payload["sent"])
                message.ack()

    consumer = threading.Thread(target=consume)
    consumer.start()
    ready.wait(30)
    with connection() as conn, conn.SimpleQueue("imagegen-bench-bare") as queue:
        for _ in range(messages):
            time.sleep(random.uniform(0.05, 0.3))  # noqa: S311 - spacing, not security
            queue.put({"sent": time.time()})
    consumer.join(120)
    return {"messages": len(latencies), "ms": statistics.median(latencies) * 1000, "p90_ms": _p90(latencies) * 1000}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of process ``pid`` and its children (a worker's pool)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _cpu_seconds(pid) + sum(_cpu_seconds(int(child)) for child in children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "sqs", "all"], default="all")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--upload", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(BASE_DIR))
    if args.child:
        print(json.dumps(_measure_upload() if args.upload else _measure(args.jobs)))
        return
    modes = ["embedded", "sqs"] if args.mode == "all" else [args.mode]
    print(f"Pipeline overhead at {SIZE}x{SIZE}, median over {args.jobs} jobs (one at a time)")
    print(f"{'broker':<10} {'latency ms':>11} {'render ms':>10} {'overhead ms':>12} {'p90 ms':>8} {'pickup ms':>10}")
    for mode in modes:
        r = _run_mode(mode, args.jobs)
        print(f"{mode:<10} {r['latency_ms']:>11.1f} {r['render_ms']:>10.1f} {r['overhead_ms']:>12.1f} "
              f"{r['overhead_p90_ms']:>8.1f} {r['pickup_ms']:>10.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
