"""A command-line client of any Imagegen server: ``python -m imagegen.cli generate "a lighthouse" --n 2``.

It speaks HTTP only (the public API, ``/api/v1/``), with ``IMAGEGEN_URL`` (the
server's base URL) and ``IMAGEGEN_API_KEY`` (an API key, ``igk_...``), so it
runs anywhere Python and ``rich`` do, with none of the server's code or
settings. Commands: ``generate`` (a live progress bar, then the files saved),
``list``, ``download``, ``cancel``; ``--json`` prints the API's JSON instead,
for scripts. Any error is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

TIMEOUT = 30.0
POLL_SECONDS = 0.5
FINISHED = ("succeeded", "failed", "canceled")
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}


class CliError(Exception):
    """What went wrong, as the one line the user sees."""


class Client:
    """The API over HTTP, authenticated with an API key; errors become ``CliError`` with the server's message."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        url = f"{self.base_url}/api/v1/{path.lstrip('/')}"
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - the user's URL
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise CliError(_server_error(exc)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the server at {self.base_url}: {reason}") from None
        except json.JSONDecodeError:
            raise CliError(f"{self.base_url} did not answer with JSON: is IMAGEGEN_URL an Imagegen server?") from None

    def fetch(self, url: str) -> bytes:
        """A file's bytes from its (signed) URL: no credentials go with it, it may be another host (S3, a CDN)."""
        if url.startswith("/"):
            url = self.base_url + url
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 - a URL the server gave
                return response.read()
        except urllib.error.HTTPError as exc:
            raise CliError(f"downloading {url.split('?')[0]} failed: HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise CliError(f"downloading {url.split('?')[0]} failed: {getattr(exc, 'reason', exc)}") from None


def _server_error(exc: urllib.error.HTTPError) -> str:
    try:
        error = json.loads(exc.read() or b"{}").get("error", {})
    except (json.JSONDecodeError, AttributeError):
        error = {}
    message = error.get("message") or exc.reason or "no message"
    if exc.code in (401, 403):
        return f"the server refused the API key (IMAGEGEN_API_KEY): {message}"
    return f"{message} (HTTP {exc.code}{', ' + error['code'] if error.get('code') else ''})"


def _save_images(client: Client, generation: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for index, image in enumerate(generation.get("images") or []):
        if not image.get("url"):
            continue
        extension = EXTENSIONS.get((image.get("format") or "").upper(), "png")
        path = out / f"{generation['id']}-{index}.{extension}"
        path.write_bytes(client.fetch(image["url"]))
        saved.append(path)
    return saved


def _status_text(generation: dict) -> str:
    if generation["status"] == "queued":
        parts = ["queued"]
        if generation.get("queue_position"):
            parts.append(f"#{generation['queue_position']}")
        if generation.get("eta_seconds") is not None:
            parts.append(f"~{generation['eta_seconds']}s")
        return " ".join(parts)
    return generation["status"]


def _wait(client: Client, generation: dict, console: Console | None) -> dict:
    """Poll until the generation ends, showing a progress bar on ``console`` (None: quietly)."""
    if console is None:
        while generation["status"] not in FINISHED:
            time.sleep(POLL_SECONDS)
            generation = client.call("GET", f"generations/{generation['id']}")
        return generation
    columns = (
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        TaskProgressColumn(),
        TextColumn("{task.fields[state]}"),
    )
    with Progress(*columns, console=console, transient=False, expand=True) as progress:
        task = progress.add_task(
            "generating", total=100, completed=generation["progress"], state=_status_text(generation)
        )
        while generation["status"] not in FINISHED:
            time.sleep(POLL_SECONDS)
            generation = client.call("GET", f"generations/{generation['id']}")
            progress.update(task, completed=generation["progress"], state=_status_text(generation))
        progress.update(task, completed=100 if generation["status"] == "succeeded" else generation["progress"])
    return generation


def cmd_generate(client: Client, args: argparse.Namespace, console: Console) -> int:
    body: dict[str, Any] = {"prompt": args.prompt, "n": args.n}
    for name in ("size", "style", "seed", "provider"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    if args.dry_run:
        estimate = client.call("POST", "generations", {**body, "dry_run": True})
        if args.json:
            console.print_json(data=estimate)
        else:
            quota = estimate["quota"]
            left = "unlimited" if quota["remaining_after"] is None else f"{quota['remaining_after']} left today"
            console.print(
                f"{estimate['n']} x {estimate['width']}x{estimate['height']} on {estimate['provider']}: "
                f"about {estimate['estimated_seconds']} s; {left}"
            )
        return 0
    generation = client.call("POST", "generations", body)
    generation = _wait(client, generation, None if args.json else console)
    if generation["status"] != "succeeded":
        error = generation.get("error") or {}
        raise CliError(
            f"generation {generation['id']} {generation['status']}: {error.get('message') or 'no reason given'}"
        )
    saved = _save_images(client, generation, Path(args.out))
    if args.json:
        console.print_json(data={**generation, "files": [str(path) for path in saved]})
    else:
        for path in saved:
            console.print(f"saved {path}", highlight=False, soft_wrap=True)  # a path in one piece, to copy
    return 0


def cmd_list(client: Client, args: argparse.Namespace, console: Console) -> int:
    query = urllib.parse.urlencode({"limit": args.limit, **({"status": args.status} if args.status else {})})
    page = client.call("GET", f"generations?{query}")
    results = page["results"] if isinstance(page, dict) else page
    if args.json:
        console.print_json(data=results)
        return 0
    wide = console.width >= 100  # a narrow terminal keeps what identifies a job: its id, status and prompt
    table = Table(box=None, highlight=False)
    table.add_column("id", no_wrap=True, min_width=36)  # whole, to copy into download or cancel
    table.add_column("status", no_wrap=True, min_width=9)
    if wide:
        table.add_column("images", no_wrap=True)
        table.add_column("created", no_wrap=True)
    table.add_column("prompt", no_wrap=True, overflow="ellipsis")
    for generation in results:
        row = [generation["id"], generation["status"]]
        if wide:
            row += [
                str(len(generation.get("images") or [])),
                (generation.get("created_at") or "")[:19].replace("T", " "),
            ]
        table.add_row(*row, generation["prompt"])
    console.print(table)
    return 0


def cmd_download(client: Client, args: argparse.Namespace, console: Console) -> int:
    """A generation's images, or one image, by id."""
    try:
        generation = client.call("GET", f"generations/{urllib.parse.quote(args.id)}")
    except CliError as generation_error:
        try:
            image = client.call("GET", f"images/{urllib.parse.quote(args.id)}")
        except CliError:
            raise generation_error from None
        generation = {"id": image["id"], "images": [image]}
        saved = _save_images(client, generation, Path(args.out))
        saved = [path.rename(path.with_name(f"{image['id']}{path.suffix}")) for path in saved]
    else:
        if generation.get("status") not in (None, "succeeded"):
            raise CliError(f"generation {generation['id']} is {generation['status']}: no images to download")
        saved = _save_images(client, generation, Path(args.out))
    if args.json:
        console.print_json(data={"id": args.id, "files": [str(path) for path in saved]})
    else:
        for path in saved:
            console.print(f"saved {path}", highlight=False, soft_wrap=True)  # a path in one piece, to copy
    return 0


def cmd_cancel(client: Client, args: argparse.Namespace, console: Console) -> int:
    generation = client.call("POST", f"generations/{urllib.parse.quote(args.id)}/cancel")
    if args.json:
        console.print_json(data=generation)
    else:
        console.print(f"{generation['id']} {generation['status']}", highlight=False)
    return 0


COMMANDS = {"generate": cmd_generate, "list": cmd_list, "download": cmd_download, "cancel": cmd_cancel}


def parser() -> argparse.ArgumentParser:
    scripts = argparse.ArgumentParser(add_help=False)
    scripts.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the API's JSON")
    main = argparse.ArgumentParser(
        prog="python -m imagegen.cli",
        description="Talk to an Imagegen server (IMAGEGEN_URL) with an API key (IMAGEGEN_API_KEY).",
        parents=[scripts],
    )
    commands = main.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", parents=[scripts], help="queue a generation, watch it, save its images")
    generate.add_argument("prompt")
    generate.add_argument("--n", type=int, default=1, help="number of images (default 1)")
    generate.add_argument("--size", help='e.g. "512x512"')
    generate.add_argument("--style")
    generate.add_argument("--seed", type=int)
    generate.add_argument("--provider")
    generate.add_argument("--out", default=".", help="folder for the images (default: here)")
    generate.add_argument("--dry-run", action="store_true", help="check and estimate only: nothing is queued")
    listing = commands.add_parser("list", parents=[scripts], help="your latest generations")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "canceled"])
    download = commands.add_parser("download", parents=[scripts], help="save a generation's images (or one image)")
    download.add_argument("id")
    download.add_argument("--out", default=".", help="folder for the images (default: here)")
    cancel = commands.add_parser("cancel", parents=[scripts], help="cancel a queued or running generation")
    cancel.add_argument("id")
    return main


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    args = parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    console = console or Console(highlight=False)
    base_url = os.environ.get("IMAGEGEN_URL", "http://127.0.0.1:8000")
    api_key = os.environ.get("IMAGEGEN_API_KEY", "")
    try:
        if not api_key:
            raise CliError("IMAGEGEN_API_KEY is not set: create an API key on the server's settings page")
        if not base_url.startswith(("http://", "https://")):
            raise CliError(f"IMAGEGEN_URL must start with http:// or https://, got {base_url!r}")
        return COMMANDS[args.command](Client(base_url, api_key), args, console)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
