"""API throughput: requests/s, latency and server CPU of Imagegen's hot paths against two floors.

    .venv/bin/python -m bench.bench_api                  # 5 s per endpoint after 1 s warm-up
    .venv/bin/python -m bench.bench_api --quick          # 2 s per endpoint: a smoke run
    .venv/bin/python -m bench.bench_api --against 9873eed   # the same load on another commit, side by side
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.bench_api

Each database backend gets a fresh environment: a temporary var/ folder (SQLite database,
embedded broker, media) or, with ``BENCH_DATABASE_URL``, a new PostgreSQL database created
next to that one and dropped afterwards. A child process migrates it and seeds a user on the
unlimited ``enterprise`` tier with an API key, a JWT and 60 finished generations (one tagged
image each). gunicorn then serves it with the project's gunicorn.conf.py (the README's server),
with DEBUG off and throttles on at a rate the load never reaches, and ``wrk`` (Debian package
``wrk``; without it, a Python load generator, noted in the table) drives one endpoint at a time:
a status poll with a JWT, the same poll answered 304 by its ETag, a list of 50 images, and
``POST /api/v1/generations`` (without a worker: jobs just queue). The same gunicorn settings
serve ``bench/baseline.py``: a bare Django JSON view and a DRF view with one primary-key SELECT,
through the same middleware. Ratios against them are what DRF, authentication, throttling,
queries and serialisation cost. All servers run at once and the reads are measured in rounds
(3; ``--rounds``), every target in turn in each, and each figure is the median of its rounds.

``--against REV`` checks REV out in a temporary git worktree and measures its endpoints in the
same run, on a fresh database of its own, so before and after are read side by side on the same
machine at about the same time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
BARE_PATH = "/bench/bare"  # bench/baseline.py's views
DRF_SELECT_PATH = "/bench/drf-select"
SEED_ROWS = 60  # the list endpoint asks for 50: every page is full
POST_BODY = {"prompt": "a lighthouse on a cliff at dawn", "size": "256x256"}
BENCH_USER_EMAIL = "bench@example.com"
BENCH_SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - throwaway
BENCH_PASSWORD = "bench-password-correct-horse-42"  # noqa: S105 - a throwaway account in a throwaway database

# Inherited variables that would change what is measured (another database, broker or storage,
# a DEBUG flag, test settings); everything else (PATH, WEB_CONCURRENCY, GUNICORN_THREADS) passes.
_DROP_PREFIXES = ("DATABASE_URL", "CELERY_", "IMAGE_", "AWS_", "SQS_", "THROTTLE_", "SECURE_", "OPENAI_", "KIE_",
                  "IMAGEGEN_", "PROMETHEUS_", "GUNICORN_BIND", "PYTEST_")  # fmt: skip
_DROP_NAMES = {"CDN_URL", "TIER_QUOTAS", "DEFAULT_TIER", "DJANGO_SETTINGS_MODULE", "DEBUG", "ALLOWED_HOSTS",
               "LOG_LEVEL", "METRICS_TOKEN", "PORT", "HOST", "NUM_PROXIES", "PUBLIC_BASE_URL"}  # fmt: skip


def bench_env(var_dir: Path | str, database_url: str = "") -> dict[str, str]:
    """The environment of a benchmark's server and child processes: production settings on ``var_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_NAMES and not k.startswith(_DROP_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE="imagegen.settings",
        IMAGEGEN_VAR_DIR=str(var_dir),
        SECRET_KEY=BENCH_SECRET_KEY,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        # Plain HTTP on loopback, as behind a TLS-terminating proxy; otherwise every request is a 301.
        SECURE_SSL_REDIRECT="0",
        # Throttles stay on (their cache reads and writes are part of every request's cost) at a
        # rate no benchmark reaches. The window is 1 s because a throttle keeps one timestamp per
        # request inside its window: an hour would grow that list all run long, while 1 s keeps
        # it at a few hundred, about what a busy user carries at the default 1000/hour.
        THROTTLE_USER_RATE="1000000/1s",
        THROTTLE_ANON_RATE="1000000/1s",
        TIER_QUOTAS="free:50,pro:1000,enterprise:0",
        JWT_ACCESS_MINUTES="240",  # the seeded token must outlive the run
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def backends() -> list[str]:
    """SQLite always; PostgreSQL too when ``BENCH_DATABASE_URL`` names a server to create databases on."""
    return ["sqlite", "postgresql"] if os.environ.get("BENCH_DATABASE_URL") else ["sqlite"]


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on ``server_url``'s server; yield its URL; drop it on exit.

    The role needs CREATEDB (``postgres`` has it).
    """
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    def connect() -> psycopg.Connection:
        # Only the server matters: the URL's database may not exist (e.g. the suite's DATABASE_URL,
        # whose tests run in test_<name>), so fall back on the maintenance database.
        try:
            return psycopg.connect(server_url, autocommit=True)
        except psycopg.OperationalError:
            return psycopg.connect(server_url, dbname="postgres", autocommit=True)

    name = f"imagegen_bench_{secrets.token_hex(4)}"
    with connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def fresh_environment(backend: str, *, label: str) -> Iterator[dict[str, str]]:
    """A temporary var/ folder and an empty database of ``backend``; yields the environment for them."""
    with tempfile.TemporaryDirectory(prefix=f"imagegen-bench-{label}-") as var:
        if backend == "sqlite":
            yield bench_env(var)
        elif backend == "postgresql":
            with fresh_postgres_database(os.environ["BENCH_DATABASE_URL"]) as url:
                yield bench_env(var, url)
        else:
            raise ValueError(f"unknown backend {backend!r}; use sqlite or postgresql")


def run_child(module: str, args: list[str], env: dict[str, str], *, timeout: float = 600) -> Any:
    """Run ``python -m module args`` in ``env``; its last stdout line is JSON, returned decoded."""
    cmd = [sys.executable, "-m", module, *args]
    result = subprocess.run(cmd, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- In the child: data ------------------------------------------------------------------


def create_bench_user() -> tuple[Any, str]:
    """A user on the unlimited tier and one API key for it; returns ``(user, raw_key)``."""
    from accounts.services import api_key_create, user_signup

    user = user_signup(email=BENCH_USER_EMAIL, password=BENCH_PASSWORD, name="Bench")
    user.tier = "enterprise"
    user.save(update_fields=["tier"])
    _, raw_key = api_key_create(user=user, name="bench")
    return user, raw_key


def seed_rows(user: Any, count: int, *, start: int = 0) -> list[Any]:
    """``count`` finished generations of ``user``, each with one public, tagged, ready image."""
    import uuid

    from django.utils import timezone

    from images.models import Generation, Image, Tag
    from images.storage import image_key

    tags = [Tag.objects.get_or_create(name=name)[0] for name in ("bench", "harbour")]
    now = timezone.now()
    made = []
    for index in range(start, start + count):
        generation = Generation.objects.create(
            user=user, status=Generation.Status.SUCCEEDED, progress=100, prompt=f"a teal harbour at dusk #{index}",
            style="photo", width=512, height=512, n=1, seed=index, provider="builtin", model="builtin-v1",
            attempts=1, enqueued_at=now, started_at=now, finished_at=now,
        )  # fmt: skip
        image_id = uuid.uuid4()

        def key(name: str, image_id: uuid.UUID = image_id) -> str:
            return image_key(user_id=user.pk, image_id=image_id, name=name)

        image = Image.objects.create(
            id=image_id, user=user, source=Image.Source.GENERATED, generation=generation, index=0,
            prompt=generation.prompt, storage_key=key("original.png"), width=512, height=512, format="PNG",
            content_type="image/png", bytes=412_345, sha256=hashlib.sha256(image_id.bytes).hexdigest(),
            variants={
                "thumb_256": {"key": key("thumb_256.webp"), "width": 256, "height": 256, "format": "WEBP",
                              "content_type": "image/webp", "bytes": 9_000},
                "thumb_768": {"key": key("thumb_768.webp"), "width": 512, "height": 512, "format": "WEBP",
                              "content_type": "image/webp", "bytes": 41_000},
                "webp": {"key": key("image.webp"), "width": 512, "height": 512, "format": "WEBP",
                         "content_type": "image/webp", "bytes": 43_000},
            },
            dominant_color="#2a6f77", category="landscape", visibility=Image.Visibility.PUBLIC,
            processing=Image.Processing.READY,
        )  # fmt: skip
        image.tags.set(tags)
        made.append(generation)
    return made


# Run with ``python -c`` in the checkout being measured (this one or ``--against``'s), so it
# uses only what every version of the project has: migrate, bench_api's seeding, JWTs.
SETUP = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("createcachetable", verbosity=0)
from accounts.services import tokens_for_user
from bench.bench_api import create_bench_user, seed_rows
user, raw_key = create_bench_user()
generations = seed_rows(user, int(sys.argv[1]))
print(json.dumps({"api_key": raw_key, "access": tokens_for_user(user=user)["access"],
                  "generation_id": str(generations[-1].pk)}))
"""


def seed(env: dict[str, str], tree: Path, rows: int) -> dict[str, str]:
    """Migrate and seed the fresh database of ``env`` with ``tree``'s code; returns the credentials and ids."""
    result = subprocess.run([sys.executable, "-c", SETUP, str(rows)], cwd=tree, env=env, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"seeding in {tree} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- The load generator ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One request, sent again and again."""

    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def _percentile(ordered: list[float], q: float) -> float:
    # Nearest rank: the smallest value with at least q of the samples at or below it.
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def server_cpu_seconds(port: int) -> float | None:
    """CPU time (user + system) so far of the gunicorn bound to ``port``: its master and workers.

    Read from /proc (None elsewhere). Unlike requests/s, CPU per request barely moves when
    other work shares the machine, so it is the steadier figure here.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    bind = f"127.0.0.1:{port}".encode()
    stats: dict[int, tuple[int, int]] = {}  # pid -> (parent pid, CPU ticks)
    masters = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
        if b"gunicorn" in cmdline and bind in cmdline:
            masters.add(int(entry.name))
    ticks = sum(t for pid, (ppid, t) in stats.items() if pid in masters or ppid in masters)
    return ticks / os.sysconf("SC_CLK_TCK") if masters else None


def load(port: int, target: Target, *, threads: int, duration: float, warmup: float) -> dict[str, Any]:
    """Send ``target`` from ``threads`` keep-alive connections for ``warmup + duration`` seconds.

    Requests that end during the last ``duration`` seconds are counted. Returns requests/s (2xx
    answers only), p50/p99/mean latency in ms, the status counts, the server's CPU time per
    counted request (from /proc, when the server is a gunicorn on ``port``), and this process's
    CPU use as a share of one core (near 1.0 means the load generator, not the server, was the limit).
    """
    start = time.perf_counter()
    counted_from, stop_at = start + warmup, start + warmup + duration
    samples: list[list[tuple[float, int]]] = [[] for _ in range(threads)]

    def drive(out: list[tuple[float, int]]) -> None:
        conn: http.client.HTTPConnection | None = None
        while (began := time.perf_counter()) < stop_at:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request(target.method, target.path, body=target.body, headers=target.headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                status = 0  # the connection broke: counted as an error, then reconnected
                conn.close()
                conn = None
            ended = time.perf_counter()
            if counted_from <= ended <= stop_at:
                out.append((ended - began, status))
        if conn is not None:
            conn.close()

    cpu_start = time.process_time()
    workers = [threading.Thread(target=drive, args=(samples[i],), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(max(0.0, counted_from - time.perf_counter()))
    server_from = server_cpu_seconds(port)
    time.sleep(max(0.0, stop_at - time.perf_counter()))
    server_to = server_cpu_seconds(port)
    for worker in workers:
        worker.join()
    cpu = (time.process_time() - cpu_start) / (time.perf_counter() - start)
    every = [sample for per_thread in samples for sample in per_thread]
    ok = sorted(latency for latency, status in every if 200 <= status < 300)
    server_cpu = server_to - server_from if server_from is not None and server_to is not None else None
    return {
        "requests_per_s": len(ok) / duration,
        "p50_ms": _percentile(ok, 0.50) * 1000,
        "p99_ms": _percentile(ok, 0.99) * 1000,
        "mean_ms": (sum(ok) / len(ok) * 1000) if ok else float("nan"),
        "requests": len(every),
        "errors": len(every) - len(ok),
        "statuses": dict(Counter(str(status) for _, status in every)),
        "client_cpu_cores": round(cpu, 2),
        "server_cpu_cores": round(server_cpu / duration, 2) if server_cpu is not None else None,
        "server_cpu_ms_per_request": server_cpu * 1000 / len(ok) if server_cpu is not None and ok else None,
    }


WRK_SCRIPT = """
local spec = __SPEC__
wrk.method = spec.method
wrk.body = spec.body
for name, value in pairs(spec.headers) do wrk.headers[name] = value end
done = function(summary, latency, requests)
  io.write(string.format(
    '\\n{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def wrk_load(port: int, target: Target, *, connections: int, duration: float, warmup: float) -> dict[str, Any]:
    """Drive ``target`` with wrk (2 threads, ``connections`` keep-alive connections).

    A ``warmup``-second run first, not counted. wrk counts 3xx as success (a 304 poll is one);
    other statuses and socket errors are reported as errors.
    """
    headers = "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in target.headers.items()) + "}"
    body = _lua_string(target.body.decode()) if target.body else "nil"
    spec = f"{{method = {_lua_string(target.method)}, body = {body}, headers = {headers}}}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("__SPEC__", spec))
    url = f"http://127.0.0.1:{port}{target.path}"

    def run_wrk(seconds: float) -> dict[str, Any]:
        cmd = [wrk_path() or "wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
               "-s", script.name, url]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    try:
        if warmup:
            run_wrk(warmup)
        cpu_from = server_cpu_seconds(port)
        figures = run_wrk(duration)
        cpu_to = server_cpu_seconds(port)
    finally:
        os.unlink(script.name)
    seconds = figures["duration_us"] / 1e6
    errors = figures["status_errors"] + figures["socket_errors"]
    ok = figures["requests"] - errors
    server_cpu = cpu_to - cpu_from if cpu_from is not None and cpu_to is not None else None
    return {
        "generator": "wrk",
        "requests_per_s": ok / seconds,
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "mean_ms": figures["mean_us"] / 1000,
        "requests": figures["requests"],
        "errors": errors,
        "statuses": {"non-2xx/3xx": figures["status_errors"], "socket": figures["socket_errors"]},
        "client_cpu_cores": None,
        "server_cpu_cores": round(server_cpu / seconds, 2) if server_cpu is not None else None,
        "server_cpu_ms_per_request": server_cpu * 1000 / ok if server_cpu is not None and ok else None,
    }


def drive(port: int, target: Target, *, connections: int, duration: float, warmup: float) -> dict[str, Any]:
    """wrk when it is installed, else the Python load generator (which may itself be the limit)."""
    if wrk_path():
        return wrk_load(port, target, connections=connections, duration=duration, warmup=warmup)
    return {"generator": "python", **load(port, target, threads=connections, duration=duration, warmup=warmup)}


def check(port: int, target: Target) -> http.client.HTTPResponse:
    """Send ``target`` once; raise with the answer unless it is 2xx (a 401 or 301 would look fast)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(target.method, target.path, body=target.body, headers=target.headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{target.name} answered {response.status}: {body[:500]!r}")
    return response


# --- Servers -------------------------------------------------------------------------------------


@contextmanager
def serve(env: dict[str, str], settings_module: str, log_path: Path, *, tree: Path = BASE_DIR) -> Iterator[int]:
    """gunicorn with gunicorn.conf.py and ``settings_module`` of ``tree`` on a free loopback port; yields the port."""
    from tests.support.processes import web_server

    try:
        with web_server(log_path, env={**env, "DJANGO_SETTINGS_MODULE": settings_module}, cwd=tree) as base_url:
            yield int(base_url.rsplit(":", 1)[1])
    except (RuntimeError, TimeoutError) as exc:
        log = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        raise RuntimeError(f"gunicorn ({settings_module}): {exc}\n{log}") from exc


def server_shape() -> dict[str, int]:
    """gunicorn's processes and threads as gunicorn.conf.py will read them from this environment."""
    return {
        "processes": int(os.environ.get("WEB_CONCURRENCY", "2")),
        "threads": int(os.environ.get("GUNICORN_THREADS", "16")),
    }


@contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """``rev`` of this repository in a temporary git worktree, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="imagegen-bench-rev-") as parent:
        tree = Path(parent) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree), rev], cwd=BASE_DIR, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=BASE_DIR, capture_output=True,
                           timeout=120)  # fmt: skip


# Connections per target: reads as in the hot-path issue (wrk -t2 -c16), POST as 8 concurrent clients.
READ_CONNECTIONS = 16
POST_CONNECTIONS = 8
POLL = "GET /api/v1/generations/{id}"
POLL_304 = "GET /api/v1/generations/{id} (If-None-Match: 304)"
LIST = "GET /api/v1/images?limit=50"
POST = "POST /api/v1/generations"


@contextmanager
def serve_tree(backend: str, tree: Path, *, label: str) -> Iterator[tuple[int, list[Target], Target]]:
    """A fresh ``backend`` database seeded with ``tree``'s code, served; yields the port, its reads and its POST."""
    with fresh_environment(backend, label=label) as env:
        seeded = seed(env, tree, SEED_ROWS)
        jwt = {"Authorization": f"Bearer {seeded['access']}"}
        poll = Target(POLL, "GET", f"/api/v1/generations/{seeded['generation_id']}", jwt)
        reads = [poll, Target(LIST, "GET", "/api/v1/images?limit=50", jwt)]
        post = Target(POST, "POST", "/api/v1/generations", {**jwt, "Content-Type": "application/json"},
                      json.dumps(POST_BODY).encode())  # fmt: skip
        with serve(env, "imagegen.settings", Path(env["IMAGEGEN_VAR_DIR"]) / "gunicorn.log", tree=tree) as port:
            check(port, reads[1])
            etag = check(port, poll).getheader("ETag")
            if etag:  # a commit from before ETags has no 304 path to measure
                reads.insert(1, Target(POLL_304, "GET", poll.path, {**jwt, "If-None-Match": etag}))
            yield port, reads, post


@contextmanager
def serve_references(backend: str) -> Iterator[tuple[int, list[Target]]]:
    """The bare Django view and DRF with one SELECT, on a seeded database of their own."""
    with fresh_environment(backend, label="reference") as env:
        seeded = seed(env, BASE_DIR, 1)
        var = Path(env["IMAGEGEN_VAR_DIR"])
        with serve(env, "bench.settings_baseline", var / "gunicorn-baseline.log") as port:
            targets = [Target("bare", "GET", BARE_PATH),
                       Target("drf_select", "GET", f"{DRF_SELECT_PATH}/{seeded['generation_id']}")]  # fmt: skip
            for target in targets:
                check(port, target)
            yield port, targets


POST_SQS = "POST /api/v1/generations (SQS on moto)"


def measure_post_over_sqs(backend: str, tree: Path, *, duration: float, warmup: float, label: str) -> dict[str, Any]:
    """``POST /api/v1/generations`` with Celery over SQS (moto's server), the production broker."""
    from tests.support.moto import aws_env, boto3_client, moto_server

    with fresh_environment(backend, label=label) as env, moto_server() as endpoint:
        boto3_client("sqs", endpoint).create_queue(QueueName="imagegen-bench")
        env.update(aws_env(endpoint), CELERY_BROKER_URL="sqs://", SQS_QUEUE_NAME="imagegen-bench")
        seeded = seed(env, tree, 1)
        headers = {"Authorization": f"Bearer {seeded['access']}", "Content-Type": "application/json"}
        target = Target(POST_SQS, "POST", "/api/v1/generations", headers, json.dumps(POST_BODY).encode())
        with serve(env, "imagegen.settings", Path(env["IMAGEGEN_VAR_DIR"]) / "gunicorn-sqs.log", tree=tree) as port:
            check(port, target)
            return drive(port, target, connections=POST_CONNECTIONS, duration=duration, warmup=warmup)


# Figures of a run that are medians across rounds (the others, counts and errors, are summed).
_MEDIAN_FIGURES = ("requests_per_s", "p50_ms", "p99_ms", "mean_ms", "server_cpu_cores", "server_cpu_ms_per_request")


def median_of_rounds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure set from several runs of a target: the median of each figure, counts summed.

    ``rounds`` keeps each run's requests/s: how far apart they are is how noisy the run was.
    """
    combined: dict[str, Any] = dict(runs[-1])
    for name in _MEDIAN_FIGURES:
        values = sorted(run[name] for run in runs if run.get(name) is not None)
        combined[name] = statistics.median(values) if values else None
    combined["requests"] = sum(run["requests"] for run in runs)
    combined["errors"] = sum(run["errors"] for run in runs)
    statuses: Counter[str] = Counter()
    for run in runs:
        statuses.update(run["statuses"])
    combined["statuses"] = dict(statuses)
    combined["rounds"] = [round(run["requests_per_s"], 1) for run in runs]
    return combined


def run_backend(backend: str, *, duration: float, warmup: float, rounds: int, against: str | None = None
                ) -> dict[str, Any]:  # fmt: skip
    """The references, this checkout's endpoints and (with ``against``) another commit's, on ``backend``.

    The references' server and one tree's are up at once, and the reads go round after round, each
    target in turn, so that what else the machine does over the run touches them alike; each figure
    is the median of its rounds (the references' over every tree's rounds). A run of a few seconds
    swings with how the kernel hands wrk's keep-alive connections to gunicorn's processes. A tree's
    POSTs come after its reads (each adds a queued job). No more than two servers at once: each
    keeps up to 32 PostgreSQL connections (2 processes x 16 threads), and the server's default
    max_connections is 100.
    """
    result: dict[str, Any] = {"backend": backend, "seed_rows": SEED_ROWS, "rounds": rounds}
    trees = [("api", BASE_DIR)]
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as checkouts:
        if against:
            trees.append(("against", checkouts.enter_context(checkout(against))))
        with serve_references(backend) as (ref_port, ref_targets):
            for label, tree in trees:
                with serve_tree(backend, tree, label=label) as (port, reads, post):
                    schedule = [("reference", ref_port, target) for target in ref_targets]
                    schedule += [(label, port, target) for target in reads]
                    for _ in range(rounds):
                        for owner, target_port, target in schedule:
                            figures = drive(target_port, target, connections=READ_CONNECTIONS, duration=duration,
                                            warmup=warmup)  # fmt: skip
                            runs.setdefault((owner, target.name), []).append(figures)
                    figures = drive(port, post, connections=POST_CONNECTIONS, duration=duration, warmup=warmup)
                    runs[(label, post.name)] = [figures]
        if backend == "postgresql":  # the production pair: PostgreSQL and SQS
            for label, tree in trees:
                figures = measure_post_over_sqs(backend, tree, duration=duration, warmup=warmup, label=f"{label}-sqs")
                runs[(label, POST_SQS)] = [figures]
    figures_of = {key: median_of_rounds(value) for key, value in runs.items()}
    result["bare"], result["drf_select"] = figures_of[("reference", "bare")], figures_of[("reference", "drf_select")]
    for label, _ in trees:
        endpoints = {name: figures for (owner, name), figures in figures_of.items() if owner == label}
        if label == "api":
            result["endpoints"] = endpoints
        else:
            result["against"] = {"rev": against, "endpoints": endpoints}
    return result


def run(*, quick: bool = False, duration: float | None = None, warmup: float | None = None,
        rounds: int | None = None, against: str | None = None) -> dict:  # fmt: skip
    """The API benchmark on every configured backend (see ``backends()``); returns its figures."""
    # wrk counts only requests that end within its run: a quick run must still outlast a slow POST.
    duration = duration if duration is not None else (2.0 if quick else 5.0)
    warmup = warmup if warmup is not None else 1.0
    rounds = rounds if rounds is not None else (1 if quick else 3)
    return {
        "server": server_shape(),
        "load": {
            "generator": "wrk" if wrk_path() else "python",
            "read_connections": READ_CONNECTIONS,
            "post_connections": POST_CONNECTIONS,
            "duration_s": duration,
            "warmup_s": warmup,
            "rounds": rounds,
        },
        "backends": [
            run_backend(b, duration=duration, warmup=warmup, rounds=rounds, against=against) for b in backends()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s per endpoint after 1 s warm-up")
    parser.add_argument("--duration", type=float, help="seconds counted per endpoint (default 5)")
    parser.add_argument("--warmup", type=float, help="seconds sent before counting (default 1)")
    parser.add_argument("--rounds", type=int, help="reads measured round after round, medians kept (default 3)")
    parser.add_argument("--against", metavar="REV", help="also measure this commit, side by side")
    args = parser.parse_args()
    from bench.run import api_rows, print_table

    result = run(quick=args.quick, duration=args.duration, warmup=args.warmup, rounds=args.rounds, against=args.against)
    print_table(api_rows(result))


if __name__ == "__main__":
    main()
