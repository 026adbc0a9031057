"""SQL queries per list page, with 1 row and with 100 rows: the count must not grow with the page.

    .venv/bin/python -m bench.bench_queries
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.bench_queries

A child process with a fresh database (bench_api's environment: production settings, DEBUG
off) seeds one finished generation with one tagged public image, requests each list page once
to warm up (the API key's last-used stamp, the cache table), then counts the queries of one
request with ``CaptureQueriesContext``; it seeds 99 more and counts again. Authentication and
the throttle's cache reads and writes are included: they are part of every request.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.bench_api import backends, fresh_environment, run_child

PAGES = ("/api/v1/images?limit=50", "/api/v1/generations?limit=50", "/api/v1/public/images?limit=50")
ROW_COUNTS = (1, 100)


def _count(client: Any, path: str) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.content[:500]!r}")
    return {
        "queries": len(captured.captured_queries),
        "results": len(response.json()["results"]),
        "sql": [query["sql"][:160] for query in captured.captured_queries],
    }


def _measure() -> dict[str, dict[str, Any]]:
    """In the child: migrate, seed 1 row then 100, count each page's queries at both sizes."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from bench.bench_api import create_bench_user, seed_rows

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    user, raw_key = create_bench_user()
    client = Client(headers={"X-API-Key": raw_key})
    figures: dict[str, dict[str, Any]] = {path: {} for path in PAGES}
    seeded = 0
    for rows in ROW_COUNTS:
        seed_rows(user, rows - seeded, start=seeded)
        seeded = rows
        for path in PAGES:
            client.get(path)  # warm-up: one-off writes (last_used_at) and first-use lookups
            figures[path][str(rows)] = _count(client, path)
    return figures


def run(*, quick: bool = False) -> dict[str, Any]:
    """Query counts per page on every configured backend. ``quick`` changes nothing: it is fast already."""
    results = []
    for backend in backends():
        with fresh_environment(backend, label="queries") as env:
            # bench_api's 1 s throttle window suits a load run; here a few requests arrive seconds
            # apart, and an entry that expired in between would add a DELETE to one count.
            env.update(THROTTLE_USER_RATE="1000000/hour", THROTTLE_ANON_RATE="1000000/hour")
            results.append({"backend": backend, "pages": run_child("bench.bench_queries", ["--child"], env)})
    return {"row_counts": list(ROW_COUNTS), "backends": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry; the run is already short")
    parser.add_argument("--sql", action="store_true", help="also print each query (first 160 characters)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure()))
        return
    from bench.run import print_table, queries_rows

    result = run(quick=args.quick)
    print_table(queries_rows(result))
    if args.sql:
        for backend in result["backends"]:
            for path, sizes in backend["pages"].items():
                print(f"\n{backend['backend']} GET {path} with {ROW_COUNTS[-1]} rows:")
                for sql in sizes[str(ROW_COUNTS[-1])]["sql"]:
                    print(f"  {sql}")


if __name__ == "__main__":
    main()
