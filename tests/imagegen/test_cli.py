"""The command-line client (imagegen/cli.py) against a live server: gunicorn, a real worker, the embedded broker."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image as PILImage
from rich.console import Console

from imagegen import cli
from images.models import Generation
from tests.factories import ApiKeyFactory
from tests.support.processes import BASE_DIR, celery_worker, child_env, free_port, web_server
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTH = 60
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def server(tmp_path) -> Iterator[str]:
    env = child_env(IMAGEGEN_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=settings.CELERY_BROKER_URL)
    with ExitStack() as stack:
        stack.enter_context(celery_worker(tmp_path / "worker.log", env=env))
        yield stack.enter_context(web_server(tmp_path / "web.log", env=env))


@pytest.fixture
def key(user, server, monkeypatch) -> str:
    raw = ApiKeyFactory(user=user).raw_key
    monkeypatch.setenv("IMAGEGEN_URL", server)
    monkeypatch.setenv("IMAGEGEN_API_KEY", raw)
    return raw


def run(*argv: str) -> tuple[int, str]:
    """The CLI in this process, on a terminal of WIDTH columns; its exit status and what it printed."""
    out = io.StringIO()
    console = Console(file=out, width=WIDTH, force_terminal=True, color_system=None, highlight=False)
    status = cli.main(list(argv), console=console)
    return status, out.getvalue()


def screen_lines(output: str) -> list[str]:
    """What a terminal shows, line by line: control sequences removed, redraws (\\r) split."""
    return [line for line in re.split(r"[\r\n]", ANSI.sub("", output)) if line.strip()]


def run_process(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagegen.cli", *argv], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_generate_shows_a_live_progress_bar_and_saves_the_files(key, tmp_path):
    out = tmp_path / "out"

    status, output = run("generate", "slow-1.5 a red fox", "--n", "2", "--size", "256x256", "--provider", "fake",
                         "--seed", "7", "--out", str(out))  # fmt: skip

    assert status == 0, output
    lines = screen_lines(output)
    bars = [line for line in lines if line.startswith("generating")]
    assert all(len(line) <= WIDTH for line in bars), bars
    assert len(bars) >= 2 and "100%" in bars[-1] and "succeeded" in bars[-1]
    assert any("running" in line for line in bars)  # redrawn while the worker ran it
    generation = Generation.objects.get()
    files = sorted(out.iterdir())
    assert [path.name for path in files] == [f"{generation.pk}-0.png", f"{generation.pk}-1.png"]
    assert [line for line in lines if line.startswith("saved")] == [f"saved {path}" for path in files]
    for path in files:
        with PILImage.open(path) as png:
            assert png.size == (256, 256) and png.format == "PNG"


def test_list_download_and_json_output_for_scripts(key, tmp_path):
    status, output = run("generate", "a blue heron", "--provider", "fake", "--json", "--out", str(tmp_path / "a"))
    assert status == 0
    generated = json.loads(output)
    assert generated["status"] == "succeeded" and len(generated["files"]) == 1
    assert Path(generated["files"][0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    status, output = run("--json", "list")
    assert status == 0 and [g["id"] for g in json.loads(output)] == [generated["id"]]
    status, output = run("list")
    assert status == 0 and generated["id"] in output and "succeeded" in output

    status, output = run("download", generated["id"], "--out", str(tmp_path / "b"))
    assert status == 0
    assert (tmp_path / "b" / f"{generated['id']}-0.png").read_bytes() == Path(generated["files"][0]).read_bytes()

    image_id = generated["images"][0]["id"]
    status, output = run("download", image_id, "--out", str(tmp_path / "c"), "--json")
    assert status == 0 and json.loads(output)["files"] == [str(tmp_path / "c" / f"{image_id}.png")]


def test_cancel_stops_a_running_generation(key, user):
    generation = Generation.objects.create(user=user, prompt="slow-30", width=256, height=256, seed=1,
                                           provider="fake", held=False)  # fmt: skip

    status, output = run("cancel", str(generation.pk))

    assert status == 0 and output.strip() == f"{generation.pk} canceled"
    wait_for(lambda: Generation.objects.get(pk=generation.pk).status == "canceled", timeout=10)


def test_errors_are_one_line_and_exit_1(key, server, capsys):
    status, _ = run("cancel", "00000000-0000-0000-0000-000000000000")
    assert status == 1
    assert capsys.readouterr().err == "error: generation not found (HTTP 404, not_found)\n"

    status, _ = run("generate", "x", "--size", "13x13")
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "size" in err and err.count("\n") == 1

    wrong_key = run_process(child_env(IMAGEGEN_URL=server, IMAGEGEN_API_KEY="igk_wrong"), "list")
    assert wrong_key.returncode == 1 and wrong_key.stdout == ""
    assert wrong_key.stderr.startswith("error: the server refused the API key (IMAGEGEN_API_KEY)")
    assert wrong_key.stderr.count("\n") == 1


def test_an_unreachable_server_is_one_line_and_exit_1():
    nobody = f"http://127.0.0.1:{free_port()}"

    done = run_process(child_env(IMAGEGEN_URL=nobody, IMAGEGEN_API_KEY="igk_x"), "list")

    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot reach the server at {nobody}: ")
    assert done.stderr.count("\n") == 1


def test_without_an_api_key_it_says_which_variable_to_set():
    done = run_process({**child_env(), "IMAGEGEN_API_KEY": ""}, "list")

    assert done.returncode == 1 and done.stderr.startswith("error: IMAGEGEN_API_KEY is not set")
