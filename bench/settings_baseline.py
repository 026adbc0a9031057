"""Imagegen's own settings with the bare benchmark view as the only URLs (see bench/baseline.py).

Used as ``DJANGO_SETTINGS_MODULE=bench.settings_baseline`` by bench/bench_api.py only.
"""

from imagegen.settings import *  # noqa: F403 - the very same settings, middleware included

ROOT_URLCONF = "bench.baseline"
