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
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SIZE = 512


def _run_mode(mode: str, jobs: int) -> dict:
    """Run this module with --child in a fresh environment; returns its JSON figures."""
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
            return _child(env, jobs)
        with moto_server() as endpoint:
            boto3_client("sqs", endpoint).create_queue(QueueName="imagegen-bench")
            boto3_client("s3", endpoint).create_bucket(Bucket="imagegen-bench")
            env.update(aws_env(endpoint), CELERY_BROKER_URL="sqs://", SQS_QUEUE_NAME="imagegen-bench",
                       IMAGE_S3_BUCKET="imagegen-bench")  # fmt: skip
            return _child(env, jobs)


def _child(env: dict[str, str], jobs: int) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_pipeline", "--child", "--jobs", str(jobs)]
    result = subprocess.run(cmd, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=1800)
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
    from images.services.generations import generation_create
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
    latencies, renders, pickups = [], [], []
    try:
        for index in range(jobs + 1):  # the first job warms the worker up and is not counted
            params = GenerationParams(prompt=f"teal harbour at dusk {index}", width=SIZE, height=SIZE,
                                      provider="builtin", model="builtin-v1", seed=index)  # fmt: skip
            generation, _ = generation_create(user=user, params=params)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                generation.refresh_from_db()
                if generation.is_finished:
                    break
                time.sleep(0.005)
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
                latencies.append((generation.finished_at - generation.created_at).total_seconds())
                pickups.append((generation.started_at - generation.created_at).total_seconds())
                renders.append(render)
        worker_cpu = _cpu_seconds(worker.pid) - warm_cpu
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
        "done": Generation.objects.filter(status="succeeded").count(),
        # The worker's main process only receives and acknowledges messages: its CPU is the broker's cost.
        "worker_main_cpu_ms_per_job": worker_cpu * 1000 / jobs,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "sqs", "all"], default="all")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(BASE_DIR))
    if args.child:
        print(json.dumps(_measure(args.jobs)))
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
