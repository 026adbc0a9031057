"""Every benchmark, one table: ``python -m bench.run`` (or ``make bench``).

    .venv/bin/python -m bench.run                      # everything (about 5 minutes on 2 cores)
    .venv/bin/python -m bench.run --quick              # short durations, few jobs: a smoke run
    .venv/bin/python -m bench.run --only api --only queries
    .venv/bin/python -m bench.run --only api --against 9873eed   # another commit's API figures beside these
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.run

Sections: ``api`` (bench_api: requests/s and latency of the read endpoints and of POST
/generations against a bare Django view), ``pipeline`` (bench_pipeline: what the queue, worker
and storage add to a job, embedded broker and SQS on moto), ``derivatives`` (bench_derivatives:
make_derivatives against naive Pillow), ``queries`` (bench_queries: SQL queries per list page
at 1 and 100 rows), ``scheduler`` (bench_scheduler: the fair queue's added latency per job
against creating a job without it). Every ratio is ours / reference. The table is printed and written, with
every raw figure, to bench/out/results.json. Figures only: nothing here passes or fails on speed.
A section that breaks is reported in the table and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_OUT = BASE_DIR / "bench" / "out" / "results.json"
SECTIONS = ("api", "pipeline", "derivatives", "queries", "scheduler")
PIPELINE_MODES = ("embedded", "sqs")

Row = dict[str, Any]


def row(benchmark: str, measure: str, ours: float | None, reference: float | None = None, reference_name: str = "",
        note: str = "") -> Row:  # fmt: skip
    """One line of the table; ``ratio`` is ours / reference when there is a reference."""
    ratio = ours / reference if ours is not None and reference else None
    return {"benchmark": benchmark, "measure": measure, "ours": ours, "reference": reference,
            "reference_name": reference_name, "ratio": ratio, "note": note}  # fmt: skip


# --- Sections ------------------------------------------------------------------------------------


def run_api(quick: bool, against: str | None = None) -> dict:
    from bench import bench_api

    return bench_api.run(quick=quick, against=against)


def run_queries(quick: bool) -> dict:
    from bench import bench_queries

    return bench_queries.run(quick=quick)


def run_scheduler(quick: bool) -> dict:
    from bench import bench_scheduler

    return bench_scheduler.run(quick=quick)


def run_pipeline(quick: bool, against: str | None = None) -> dict:
    """bench_pipeline's measurement, each broker in its own fresh environment.

    ``postgresql`` (the embedded broker with a PostgreSQL database, where waiting requests wake on
    NOTIFY) runs when ``BENCH_DATABASE_URL`` names a server; ``upload40mp`` is the worker's peak
    memory on a 40 MP upload. With ``against``, that commit runs the embedded and SQS jobs too
    (its own bench child), each right after this one's.
    """
    from bench import bench_api, bench_pipeline

    jobs = 2 if quick else 50
    modes = [*PIPELINE_MODES, *(["postgresql"] if os.environ.get("BENCH_DATABASE_URL") else [])]
    results, before = {}, {}
    with contextlib.ExitStack() as stack:
        tree = stack.enter_context(bench_api.checkout(against)) if against else None
        for mode in modes:
            results[mode] = bench_pipeline._run_mode(mode, jobs)
            if tree and mode in PIPELINE_MODES:
                before[mode] = bench_pipeline._run_mode(mode, jobs, tree=tree)
    return {"jobs": jobs, "size": bench_pipeline.SIZE, "modes": results, "against": against, "before": before,
            "upload": bench_pipeline._run_mode("upload40mp", 1)}  # fmt: skip


def run_derivatives(quick: bool, against: str | None = None) -> dict:
    """bench_derivatives' measurement: each variant once per round, every run in a fresh process.

    Each input format (JPEG, PNG, WebP of the same 4000x3000 photo) goes through its variants;
    rounds alternate the variants so a busy moment on a shared machine falls on all of them.
    With ``against``, that commit's ``make_derivatives`` runs on the JPEG in the same rounds.
    Then the WebP methods and PNG levels, measured in this process.
    """
    from bench import bench_api, bench_derivatives

    runs = 1 if quick else 5
    inputs: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        trees = {"this": BASE_DIR}
        if against:
            trees["against"] = stack.enter_context(bench_api.checkout(against))
        for fmt, names in bench_derivatives.INPUTS.items():
            data = bench_derivatives.test_input(fmt)
            cells = [("this", v) for v in names] + (
                [("against", "make_derivatives")] if against and fmt == "JPEG" else []
            )
            variants: dict[str, dict[str, Any]] = {
                (v if tree == "this" else f"make_derivatives at {against}"): {
                    "wall": [], "cpu": [], "peak_kib": 0, "baseline_kib": 0} for tree, v in cells
            }  # fmt: skip
            photo = stack.enter_context(tempfile.NamedTemporaryFile(suffix=f".{fmt.lower()}"))
            photo.write(data)
            photo.flush()
            for _ in range(runs):
                for (tree, variant), figures in zip(cells, variants.values(), strict=True):
                    cmd = [
                        sys.executable,
                        "-m",
                        "bench.bench_derivatives",
                        "--child",
                        variant,
                        photo.name,
                        "--runs",
                        "1",
                    ]
                    done = subprocess.run(cmd, cwd=trees[tree], capture_output=True, text=True, timeout=600)
                    if done.returncode != 0:
                        raise RuntimeError(f"bench_derivatives --child {variant}: {done.stderr[-2000:]}")
                    one = json.loads(done.stdout.strip().splitlines()[-1])
                    figures["wall"] += one["wall"]
                    figures["cpu"] += one["cpu"]
                    if one["peak_kib"] - one["baseline_kib"] > figures["peak_kib"] - figures["baseline_kib"]:
                        figures["peak_kib"], figures["baseline_kib"] = one["peak_kib"], one["baseline_kib"]
            inputs[fmt] = {"bytes": len(data), "variants": variants}
    width, height = bench_derivatives.SIZE
    encoder_runs = 1 if quick else 5
    return {"size": f"{width}x{height}", "runs": runs, "inputs": inputs, "against": against,
            "webp_methods": bench_derivatives.webp_methods(encoder_runs),
            "png_levels": bench_derivatives.png_levels(encoder_runs)}  # fmt: skip


RUNNERS: dict[str, Callable[[bool], dict]] = {
    "api": run_api,
    "pipeline": run_pipeline,
    "derivatives": run_derivatives,
    "queries": run_queries,
    "scheduler": run_scheduler,
}

# --- Rows ----------------------------------------------------------------------------------------


def _load_notes(figures: dict) -> str:
    notes = []
    if figures["errors"]:
        notes.append(f"{figures['errors']} errors: {figures['statuses']}")
    if (figures.get("client_cpu_cores") or 0) > 0.85:
        notes.append(f"load generator at {figures['client_cpu_cores']:.2f} cores")
    if figures.get("server_cpu_cores") is not None:
        notes.append(f"server busy {figures['server_cpu_cores']:.2f} of {os.cpu_count()} cores")
    if len(figures.get("rounds", [])) > 1:
        notes.append("median of rounds " + ", ".join(f"{r:.0f}" for r in figures["rounds"]))
    return "; ".join(notes)


def api_rows(result: dict) -> list[Row]:
    rows = []
    load = result["load"]
    for backend in result["backends"]:
        bench, bare, drf = f"API ({backend['backend']})", backend["bare"], backend["drf_select"]
        vs = "DRF + 1 SELECT"
        for name, figures in backend["endpoints"].items():
            rows.append(row(bench, f"{name}: requests/s", figures["requests_per_s"], drf["requests_per_s"], vs,
                            _load_notes(figures)))  # fmt: skip
            rows.append(row(bench, f"{name}: p50 ms", figures["p50_ms"], drf["p50_ms"], vs))
            rows.append(row(bench, f"{name}: p99 ms", figures["p99_ms"], drf["p99_ms"], vs))
            if figures.get("server_cpu_ms_per_request") is not None:
                rows.append(row(bench, f"{name}: server CPU ms per request", figures["server_cpu_ms_per_request"],
                                drf["server_cpu_ms_per_request"], vs))  # fmt: skip
        before = backend.get("against")
        if before:
            rev = before["rev"]
            for name, figures in backend["endpoints"].items():
                old = before["endpoints"].get(name)
                if old is None:
                    continue
                rows.append(row(bench, f"{name}: requests/s, this commit vs {rev}", figures["requests_per_s"],
                                old["requests_per_s"], rev, _load_notes(old)))  # fmt: skip
                rows.append(row(bench, f"{name}: p99 ms, this commit vs {rev}", figures["p99_ms"], old["p99_ms"], rev))
                cpu, old_cpu = figures.get("server_cpu_ms_per_request"), old.get("server_cpu_ms_per_request")
                if cpu and old_cpu:
                    rows.append(
                        row(bench, f"{name}: server CPU ms per request, this commit vs {rev}", cpu, old_cpu, rev)
                    )
        rows.append(row(bench, "DRF view + 1 SELECT: requests/s", drf["requests_per_s"], bare["requests_per_s"],
                        "bare view", f"p50 {drf['p50_ms']:.1f} ms, p99 {drf['p99_ms']:.1f} ms"))  # fmt: skip
        rows.append(row(bench, "bare Django JSON view: requests/s", bare["requests_per_s"],
                        note=f"p50 {bare['p50_ms']:.1f} ms, p99 {bare['p99_ms']:.1f} ms; load by {load['generator']}, "
                             f"{load['read_connections']} connections for reads, {load['post_connections']} for POST, "
                             f"{load['duration_s']:g} s each, reads in {load.get('rounds', 1)} rounds"))  # fmt: skip
    return rows


# The targets (issue 15): overhead median / p90 in ms by broker, the worker's peak on 40 MP.
OVERHEAD_TARGETS_MS = {"embedded": (50, 100), "postgresql": (50, 100), "sqs": (100, 250)}
UPLOAD_RSS_TARGET_MB = 400


def pipeline_rows(result: dict) -> list[Row]:
    rows = []
    size = result["size"]
    for mode, r in result["modes"].items():
        median_target, p90_target = OVERHEAD_TARGETS_MS.get(mode, (None, None))
        target = f"target ≤ {median_target} / ≤ {p90_target} ms; " if median_target else ""
        rows.append(row("Pipeline", f"{mode} broker: job latency ms ({size}x{size}, median of {r['jobs']})",
                        r["latency_ms"], r["render_ms"], "render alone"))  # fmt: skip
        rows.append(row("Pipeline", f"{mode} broker: overhead ms (latency - render)", r["overhead_ms"],
                        note=f"{target}p90 {r['overhead_p90_ms']:.0f} ms"))  # fmt: skip
        rows.append(row("Pipeline", f"{mode} broker: overhead p90 ms", r["overhead_p90_ms"]))
        bare = r.get("bare_kombu")
        note = f"median {r['pickup_ms']:.0f} ms" + (f"; bare kombu median {bare['ms']:.0f} ms" if bare else "")
        rows.append(row("Pipeline", f"{mode} broker: job claimed after ms, p90", r["pickup_p90_ms"],
                        bare["p90_ms"] if bare else None, "bare kombu consumer" if bare else "", note))  # fmt: skip
        if "answer_ms" in r:
            how = "NOTIFY" if mode == "postgresql" else "20 ms poll"
            rows.append(row("Prefer: wait", f"{mode}: job end → answer ms ({how}), median", r["answer_ms"],
                            r["backoff_answer_ms"], "back-off poll (before)",
                            f"p90 {r['answer_p90_ms']:.0f}, before {r['backoff_answer_p90_ms']:.0f}"))  # fmt: skip
        old = result.get("before", {}).get(mode)
        if old:
            rev = result["against"]
            rows.append(row("Pipeline", f"{mode} broker: overhead ms, this commit vs {rev}", r["overhead_ms"],
                            old["overhead_ms"], rev,
                            f"p90 {r['overhead_p90_ms']:.0f} vs {old['overhead_p90_ms']:.0f} ms; claimed after p90 "
                            f"{r['pickup_p90_ms']:.0f} vs {old['pickup_p90_ms']:.0f} ms"))  # fmt: skip
        if r.get("worker_idle_cpu_ms_per_s") is not None:
            old_idle = (old or {}).get("worker_idle_cpu_ms_per_s")
            measure = f"{mode} broker: idle worker CPU ms per s (main + pool, over {r['idle_seconds']:.0f} s)"
            rows.append(row("Pipeline", measure, r["worker_idle_cpu_ms_per_s"], old_idle,
                            result["against"] if old_idle is not None else ""))  # fmt: skip
        if r.get("worker_main_cpu_ms_per_job") is not None:
            rows.append(row("Pipeline", f"{mode} broker: worker main process CPU ms per job",
                            r["worker_main_cpu_ms_per_job"]))  # fmt: skip
    upload = result.get("upload")
    if upload:
        peak_mb = upload["peak_mib"] * 1024 * 1024 / 1e6
        refused = upload["over_limit_refused"] or "NOT refused"
        note = (f"target ≤ {UPLOAD_RSS_TARGET_MB} MB; processed in {upload['seconds']:.1f} s; "
                f"over {upload['max_image_pixels'] / 1e6:.0f} MP: {refused}")  # fmt: skip
        rows.append(row("Upload 40 MP", f"worker peak RSS MB ({upload['size']} JPEG, solo pool)", peak_mb,
                        upload["idle_mib"] * 1024 * 1024 / 1e6, "idle worker", note))  # fmt: skip
    return rows


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _above_mib(figures: dict) -> float:
    return (figures["peak_kib"] - figures["baseline_kib"]) / 1024


# The targets (issue 15), printed beside the figures.
DERIVATIVES_TARGET_MS = 400
DERIVATIVES_TARGET_MIB = 150
PNG_TARGET_MS = 100
PNG_TARGET_SIZE_RATIO = 1.3


def derivative_rows(result: dict) -> list[Row]:
    runs, size = result["runs"], result["size"]
    rows = []
    for fmt, figures in result["inputs"].items():
        variants = figures["variants"]
        ours, vips = variants["make_derivatives"], variants["pyvips"]
        bench = f"Derivatives ({fmt})"
        for name, reference, ref_name in (
            ("make_derivatives", "pyvips", "pyvips, same files"),
            ("make_derivatives(reencode_original=False)", "pyvips(shrink-on-load)", "pyvips shrink-on-load"),
        ):
            mine, theirs = variants[name], variants[reference]
            target = f"target ≤ {DERIVATIVES_TARGET_MS} ms" if name == "make_derivatives" and fmt == "JPEG" else ""
            rows.append(row(bench, f"{name}: wall ms, {size} {fmt} (median of {runs})", _median_ms(mine["wall"]),
                            _median_ms(theirs["wall"]), ref_name,
                            "; ".join(x for x in (target, f"CPU {_median_ms(mine['cpu']):.0f} ms") if x)))  # fmt: skip
        rows.append(row(bench, "make_derivatives: peak memory above baseline MiB", _above_mib(ours), _above_mib(vips),
                        "pyvips", f"target ≤ {DERIVATIVES_TARGET_MIB} MiB" if fmt == "JPEG" else ""))  # fmt: skip
        vips_note = f"CPU {_median_ms(vips['cpu']):.0f} ms; {_above_mib(vips):.0f} MiB above baseline"
        rows.append(row(bench, "pyvips (the alternative not picked): wall ms", _median_ms(vips["wall"]),
                        _median_ms(ours["wall"]), "make_derivatives", vips_note))  # fmt: skip
        if "naive" in variants:
            rows.append(row(bench, "make_derivatives vs naive Pillow: wall ms", _median_ms(ours["wall"]),
                            _median_ms(variants["naive"]["wall"]), "naive Pillow"))  # fmt: skip
        for name, before in variants.items():
            if name.startswith("make_derivatives at "):
                rows.append(row(bench, f"make_derivatives: wall ms, this commit vs {result['against']}",
                                _median_ms(ours["wall"]), _median_ms(before["wall"]), result["against"],
                                f"{_above_mib(before):.0f} MiB above baseline before"))  # fmt: skip
    for picture, methods in result["webp_methods"].items():
        default = methods[4] if 4 in methods else methods["4"]
        for method, figures in methods.items():
            chosen = " (chosen)" if int(method) == _chosen_webp_method() else ""
            note = f"{figures['bytes'] / 1024:.0f} KiB = {figures['bytes'] / default['bytes']:.2f}x method 4's"
            rows.append(row("WebP method", f"{picture}: method {method}{chosen} ms", figures["ms"], default["ms"],
                            "method 4 (Pillow's default)", note))  # fmt: skip
    levels = result["png_levels"]
    level6 = levels["level 6"]
    for name, figures in levels.items():
        chosen = " (chosen)" if name == _chosen_png() else ""
        note = (f"{figures['bytes'] / 1024:.0f} KiB = {figures['bytes'] / level6['bytes']:.2f}x level 6's; "
                f"target ≤ {PNG_TARGET_MS} ms, ≤ {PNG_TARGET_SIZE_RATIO}x")  # fmt: skip
        rows.append(row("PNG encode", f"1024x1024 generated, {name}{chosen}: ms", figures["ms"], level6["ms"],
                        "level 6", note))  # fmt: skip
    return rows


def _chosen_webp_method() -> int:
    from images.processing import WEBP_METHOD

    return WEBP_METHOD


def _chosen_png() -> str:
    from images.providers.builtin import PNG_COMPRESS_LEVEL, PNG_COMPRESS_TYPE

    return f"level {PNG_COMPRESS_LEVEL}" + (" Z_RLE" if PNG_COMPRESS_TYPE == zlib.Z_RLE else "")


def queries_rows(result: dict) -> list[Row]:
    few, many = (str(n) for n in result["row_counts"])
    rows = []
    for backend in result["backends"]:
        for path, sizes in backend["pages"].items():
            rows.append(row(f"Queries ({backend['backend']})", f"GET {path}: SQL queries with {many} rows",
                            sizes[many]["queries"], sizes[few]["queries"], f"with {few} row",
                            f"{sizes[many]['results']} results on the page"))  # fmt: skip
    return rows


def scheduler_rows(result: dict) -> list[Row]:
    rows = []
    for backend in result["backends"]:
        bench, reference = f"Scheduler ({backend['backend']})", "create, no fair queue"
        held = f"{backend['held']} jobs of {backend['users']} users held; median of {backend['jobs']}"
        rows.append(row(bench, "fair queue's added latency per job ms (target <= 10)", backend["added_ms"],
                        backend["create_plain_ms"], reference, held))  # fmt: skip
        rows.append(row(bench, "create with the fair queue ms", backend["create_fair_ms"], backend["create_plain_ms"],
                        reference))  # fmt: skip
        rows.append(row(bench, "admission after a job ends ms", backend["admit_ms"], backend["create_plain_ms"],
                        reference, f"p90 {backend['admit_p90_ms']:.1f} ms"))  # fmt: skip
    return rows


ROWS: dict[str, Callable[[dict], list[Row]]] = {
    "api": api_rows,
    "pipeline": pipeline_rows,
    "derivatives": derivative_rows,
    "queries": queries_rows,
    "scheduler": scheduler_rows,
}

# --- Output --------------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def format_table(rows: list[Row]) -> str:
    """The rows as a Markdown table (it reads as plain text too, and pastes into the README)."""
    header = ["benchmark", "measure", "ours", "reference", "ours / ref", "note"]
    cells = [
        [
            r["benchmark"],
            r["measure"],
            _number(r["ours"]),
            f"{_number(r['reference'])} ({r['reference_name']})" if r["reference"] is not None else "-",
            f"{r['ratio']:.2f}" if r["ratio"] is not None else "-",
            r["note"],
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    right = {2, 3, 4}  # numbers line up on the right

    def line(values: list[str]) -> str:
        padded = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule, *(line(c) for c in cells)])


def print_table(rows: list[Row]) -> None:
    print(format_table(rows), flush=True)


def _machine() -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True)
    from bench.bench_api import server_shape

    return {
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit.stdout.strip() if commit.returncode == 0 else "",
        "gunicorn": server_shape(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short durations and few jobs (the smoke test's run)")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="NAME",
                        help=f"run only this section (repeatable): {', '.join(SECTIONS)}")  # fmt: skip
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output (default bench/out/results.json)")
    parser.add_argument("--against", metavar="REV", help="api: also measure this commit, side by side")
    args = parser.parse_args(argv)
    runners = dict(RUNNERS)
    if args.against:
        runners["api"] = functools.partial(run_api, against=args.against)
        runners["derivatives"] = functools.partial(run_derivatives, against=args.against)
        runners["pipeline"] = functools.partial(run_pipeline, against=args.against)
    sys.path.insert(0, str(BASE_DIR))
    chosen = [s for s in SECTIONS if s in (args.only or SECTIONS)]
    started = dt.datetime.now(dt.UTC)
    machine = _machine()
    print(f"Imagegen benchmarks{' (--quick)' if args.quick else ''}: {', '.join(chosen)}; "
          f"{machine['cpus']} CPUs, load average {machine['load_average']}, Python {machine['python']}, "
          f"commit {machine['commit'] or '?'}", flush=True)  # fmt: skip
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    rows: list[Row] = []
    machine["load_average_by_section"] = {}
    for section in chosen:
        # Other people's work on a shared machine shows here: read the figures with it.
        load = machine["load_average_by_section"][section] = round(os.getloadavg()[0], 2)
        print(f"... {section} (load average {load})", flush=True)
        try:
            results[section] = runners[section](args.quick)
            rows += ROWS[section](results[section])
        except (Exception, SystemExit) as exc:  # one broken section must not hide the others' figures
            errors[section] = traceback.format_exc()
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            rows.append(row(section, "FAILED", None, note=first_line[:200]))
    machine["load_average_end"] = round(os.getloadavg()[0], 2)
    gunicorn = machine["gunicorn"]
    print(f"\ngunicorn: {gunicorn['processes']} processes x {gunicorn['threads']} threads (gthread); "
          f"load average {machine['load_average']} at start, {machine['load_average_end']} at end; "
          f"ratios are ours / reference\n")  # fmt: skip
    print_table(rows)
    for section, trace in errors.items():
        print(f"\n{section} failed:\n{trace}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    document = {"started_at": started.isoformat(), "seconds": seconds, "quick": args.quick, "machine": machine,
                "table": rows, "results": results, "errors": errors}  # fmt: skip
    args.out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwritten to {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
