"""What the fair queue adds to a job: its admission's latency, against creating a job without it.

    .venv/bin/python -m bench.bench_scheduler
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.bench_scheduler

A child process with a fresh database (production settings, the embedded broker: every
message really sent) holds a backlog of ``HELD`` jobs of ``USERS`` users, then measures, each
``JOBS`` times: ``generation_create`` without the fair queue (GENERATION_IN_FLIGHT_LIMIT=0, the
reference: the job is sent at once); ``generation_create`` with it (held, then admitted on
commit: the same send plus the admission); and the admission a worker runs when a job ends (one
place frees, the fairest held job is sent). The scheduler's added latency per job is the second
minus the first (medians); the target is 10 ms or less.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from bench.bench_api import backends, fresh_environment, run_child

USERS = 20
HELD = 1000
JOBS = 200


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _measure(jobs: int) -> dict[str, Any]:
    """In the child: seed the backlog, then time each way of queueing a job."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from accounts.models import User
    from images.models import Generation
    from images.services.generations import generation_create
    from images.services.resolver import generation_params
    from images.services.scheduling import generations_admit

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    users = [User.objects.create_user(email=f"user{i}@bench.example", password=None) for i in range(USERS)]
    User.objects.update(tier="enterprise")  # no quota: its lock and sum are not the scheduler's
    users = list(User.objects.order_by("email"))
    Generation.objects.bulk_create(
        Generation(user=users[i % USERS], prompt="backlog", width=512, height=512, seed=i, provider="builtin",
                   held=True)
        for i in range(HELD)
    )  # fmt: skip
    params = generation_params(prompt="a lighthouse", size="512x512")
    creator = users[0]
    settings.GENERATION_IN_FLIGHT_LIMIT = 4

    def create() -> float:
        started = time.perf_counter()
        generation_create(user=creator, params=params)  # its on-commit work (send, admission) runs in the call
        return time.perf_counter() - started

    def admit_one() -> float:
        started = time.perf_counter()
        generations_admit()
        return time.perf_counter() - started

    def nothing_in_flight() -> None:
        # Every step starts from the same state: no job in flight, the backlog held.
        Generation.objects.filter(held=False, status__in=Generation.ACTIVE).update(status=Generation.Status.SUCCEEDED)

    plain, fair, admit = [], [], []
    settings.GENERATION_IN_FLIGHT_LIMIT = 0
    for _ in range(5):  # warm-up: connections, compiled queries, the broker's tables
        create()
    for _ in range(jobs):
        # Interleaved, so that the machine's other load falls on both alike.
        nothing_in_flight()
        settings.GENERATION_IN_FLIGHT_LIMIT = 0
        plain.append(create())
        nothing_in_flight()
        settings.GENERATION_IN_FLIGHT_LIMIT = 1  # room for one: the admission sends one job
        fair.append(create())
        nothing_in_flight()  # a job ended: its place is free
        admit.append(admit_one())
    return {
        "jobs": jobs,
        "users": USERS,
        "held": HELD,
        "create_plain_ms": _median_ms(plain),
        "create_fair_ms": _median_ms(fair),
        "added_ms": _median_ms(fair) - _median_ms(plain),
        "admit_ms": _median_ms(admit),
        "admit_p90_ms": statistics.quantiles(admit, n=10)[-1] * 1000,
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    jobs = 30 if quick else JOBS
    results = []
    for backend in backends():
        with fresh_environment(backend, label="scheduler") as env:
            results.append({"backend": backend, **run_child("bench.bench_scheduler", ["--child", str(jobs)], env)})
    return {"backends": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 jobs instead of 200")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child)))
        return
    from bench.run import print_table, scheduler_rows

    print_table(scheduler_rows(run(quick=args.quick)))


if __name__ == "__main__":
    main()
