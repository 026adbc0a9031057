"""bench/: every section runs end to end in --quick mode and prints its rows; the pieces behave.

Figures only: nothing here asserts a speed (the house rule: speed targets live in the
benchmarks' printed figures and ratios, never in timed assertions).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import bench_api, run

BASE_DIR = Path(__file__).resolve().parent.parent

# The rows each section must print (a substring of the "measure" column).
EXPECTED_MEASURES = {
    "api": [
        "GET /api/v1/generations/{id}: requests/s",
        "GET /api/v1/generations/{id} (If-None-Match: 304): requests/s",
        "GET /api/v1/images?limit=50: p99 ms",
        "POST /api/v1/generations: requests/s",
        "DRF view + 1 SELECT: requests/s",
        "bare Django JSON view: requests/s",
    ],
    "pipeline": [
        "embedded broker: job latency ms",
        "sqs broker: overhead ms",
        "sqs broker: job claimed after ms, p90",
        "embedded broker: idle worker CPU ms per s",
        "sqs broker: idle worker CPU ms per s",
        "job end → answer ms",
        "worker peak RSS MB",
    ],
    "derivatives": [
        "make_derivatives: wall ms, 4000x3000 JPEG",
        "make_derivatives: wall ms, 4000x3000 PNG",
        "make_derivatives: wall ms, 4000x3000 WEBP",
        "make_derivatives: peak memory above baseline MiB",
        "pyvips (the alternative not picked): wall ms",
        "method 1 (chosen) ms",
        "1024x1024 generated, level 1 Z_RLE (chosen): ms",
    ],
    "queries": [
        "GET /api/v1/images?limit=50: SQL queries with 100 rows",
        "GET /api/v1/generations?limit=50: SQL queries with 100 rows",
        "GET /api/v1/public/images?limit=50: SQL queries with 100 rows",
    ],
    "scheduler": ["fair queue's added latency per job ms", "admission after a job ends ms"],
}


def _bench_environment() -> dict[str, str]:
    env = dict(os.environ)
    # A PostgreSQL run of the suite benchmarks PostgreSQL too (in a database of its own).
    if env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env["BENCH_DATABASE_URL"] = env["DATABASE_URL"]
    return env


@pytest.mark.slow
@pytest.mark.parametrize("section", run.SECTIONS)
def test_each_section_runs_quick_and_prints_its_table(section: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--only", section, "--out", str(out)],
        cwd=BASE_DIR,
        env=_bench_environment(),
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| benchmark" in done.stdout and "| ours / ref |" in done.stdout
    for measure in EXPECTED_MEASURES[section]:
        assert measure in done.stdout
    document = json.loads(out.read_text())
    assert document["errors"] == {} and document["quick"] is True
    assert list(document["results"]) == [section]
    rows = document["table"]
    assert rows and all(isinstance(r["ours"], int | float) for r in rows)
    if section == "queries":
        for backend in document["results"]["queries"]["backends"]:
            for sizes in backend["pages"].values():
                # Constant: as many queries for a page of 50 rows as for a page of one.
                assert sizes["100"]["queries"] == sizes["1"]["queries"]
                assert (sizes["1"]["results"], sizes["100"]["results"]) == (1, 50)
    if section == "api":
        for backend in document["results"]["api"]["backends"]:
            for figures in [*backend["endpoints"].values(), backend["bare"], backend["drf_select"]]:
                assert figures["errors"] == 0 and figures["requests"] > 0


def test_a_failing_section_is_reported_in_the_table_and_the_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(quick: bool) -> dict:
        raise RuntimeError("moto is not installed")

    monkeypatch.setitem(run.RUNNERS, "queries", broken)
    out = tmp_path / "results.json"

    assert run.main(["--only", "queries", "--out", str(out)]) == 1

    printed = capsys.readouterr().out
    assert "FAILED" in printed and "moto is not installed" in printed
    assert "moto is not installed" in json.loads(out.read_text())["errors"]["queries"]


def test_ratios_are_ours_over_the_reference_and_absent_without_one() -> None:
    assert run.row("API", "GET x: requests/s", 50.0, 200.0, "bare view")["ratio"] == 0.25
    assert run.row("Pipeline", "overhead ms", 120.0)["ratio"] is None
    table = run.format_table([run.row("API", "GET x: requests/s", 50.0, 200.0, "bare view")])
    header, rule, line = table.splitlines()
    assert [c.strip() for c in line.strip("|").split("|")] == ["API", "GET x: requests/s", "50.0", "200 (bare view)",
                                                                "0.25", ""]  # fmt: skip
    assert len(header) == len(rule) == len(line)


def test_the_bench_environment_drops_settings_that_would_change_what_is_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://elsewhere/db")
    monkeypatch.setenv("IMAGE_S3_BUCKET", "prod-bucket")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")

    env = bench_api.bench_env(tmp_path)

    assert "DATABASE_URL" not in env and "IMAGE_S3_BUCKET" not in env
    assert env["DJANGO_SETTINGS_MODULE"] == "imagegen.settings"
    assert env["IMAGEGEN_VAR_DIR"] == str(tmp_path)
    assert env["WEB_CONCURRENCY"] == "3"  # the server's shape is the caller's to choose
    assert bench_api.bench_env(tmp_path, "sqlite:////x.db")["DATABASE_URL"] == "sqlite:////x.db"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn

    def do_GET(self) -> None:
        status = 200 if self.path == "/ok" else 404
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_load_generator_counts_successes_and_errors_apart(http_port: int) -> None:
    ok = bench_api.load(http_port, bench_api.Target("ok", "GET", "/ok"), threads=2, duration=0.3, warmup=0.1)
    missing = bench_api.load(http_port, bench_api.Target("404", "GET", "/nope"), threads=2, duration=0.3, warmup=0.1)

    assert ok["requests"] > 0 and ok["errors"] == 0 and set(ok["statuses"]) == {"200"}
    assert ok["requests_per_s"] > 0 and ok["p50_ms"] <= ok["p99_ms"]
    assert missing["requests_per_s"] == 0 and missing["errors"] == missing["requests"] > 0
    assert set(missing["statuses"]) == {"404"}


def test_a_target_that_does_not_answer_2xx_stops_the_run(http_port: int) -> None:
    with pytest.raises(RuntimeError, match="answered 404"):
        bench_api.check(http_port, bench_api.Target("missing", "GET", "/nope"))


def test_rounds_combine_into_the_median_of_each_figure_with_counts_summed() -> None:
    def figures(rps: float, p99: float, cpu: float | None) -> dict:
        return {"requests_per_s": rps, "p50_ms": 2.0, "p99_ms": p99, "mean_ms": 2.5, "server_cpu_cores": 1.0,
                "server_cpu_ms_per_request": cpu, "requests": 100, "errors": 1, "statuses": {"socket": 1}}  # fmt: skip

    combined = bench_api.median_of_rounds([figures(300, 9, 3.0), figures(450, 30, None), figures(410, 12, 3.4)])
    assert (combined["requests_per_s"], combined["p99_ms"]) == (410, 12)
    assert combined["server_cpu_ms_per_request"] == 3.2  # of the rounds that could read it
    assert (combined["requests"], combined["errors"], combined["statuses"]) == (300, 3, {"socket": 3})
    assert combined["rounds"] == [300, 450, 410]
