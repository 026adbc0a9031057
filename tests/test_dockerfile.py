"""The container files, exercised without a Docker engine.

There is no Docker engine on these machines, so the Dockerfile's steps run
here in the project's virtualenv with the image's own environment: its
collectstatic step, its entrypoint, its default command (gunicorn) with its
HEALTHCHECK, and the worker and beat commands' app. docker-compose.yml and the
IAM policy in docs/ are checked as data.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from tests.support.processes import BASE_DIR, free_port, stop
from tests.support.waiting import wait_for

VENV_BIN = Path(sys.executable).parent
APP_DIR = "/app"  # the Dockerfile's WORKDIR: this checkout plays it here


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, with ``\\`` continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    return instructions


INSTRUCTIONS = parse_dockerfile((BASE_DIR / "Dockerfile").read_text())
FINAL_STAGE = INSTRUCTIONS[max(i for i, ins in enumerate(INSTRUCTIONS) if ins.keyword == "FROM") :]


def final(keyword: str) -> list[Instruction]:
    return [ins for ins in FINAL_STAGE if ins.keyword == keyword]


def exec_form(args: str) -> list[str]:
    return [part.replace(f"{APP_DIR}/", f"{BASE_DIR}/") for part in json.loads(args)]


def image_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The runtime image's environment (its ENV lines), with this virtualenv as /opt/venv and a temp var dir."""
    env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    for ins in final("ENV"):
        for pair in shlex.split(ins.args):
            name, _, value = pair.partition("=")
            if name != "PATH":  # /opt/venv/bin:$PATH is VENV_BIN here
                env[name] = value
    env["IMAGEGEN_VAR_DIR"] = str(tmp_path / "var")
    env.update(overrides)
    return env


PRODUCTION_ENV = {
    "SECRET_KEY": "test-secret-key-for-the-image-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "images.example.com",
}


def run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout)


# --- the Dockerfile's shape ---------------------------------------------------------


def test_every_stage_builds_from_python_3_11_slim():
    images = [ins.args.split()[0] for ins in INSTRUCTIONS if ins.keyword == "FROM"]

    assert images
    assert all(image == "python:3.11-slim" for image in images)


def test_the_image_runs_as_a_non_root_user_created_in_it():
    users = final("USER")
    assert users, "the runtime stage needs a USER"
    user = users[-1].args
    assert user not in {"root", "0", "0:0"}
    assert any("useradd" in ins.args and user in ins.args for ins in final("RUN"))
    # Nothing after USER runs as root again.
    assert FINAL_STAGE.index(users[-1]) > max(FINAL_STAGE.index(ins) for ins in final("RUN"))


def test_the_var_dir_is_a_folder_the_runtime_user_owns():
    env = dict(pair.split("=", 1) for ins in final("ENV") for pair in shlex.split(ins.args))
    var_dir = env["IMAGEGEN_VAR_DIR"]
    user = final("USER")[-1].args

    assert any(
        f"mkdir -p {var_dir}" in ins.args and f"chown {user}:{user} {var_dir}" in ins.args for ins in final("RUN")
    )


def test_it_installs_exactly_requirements_txt_and_this_venv_matches_it():
    assert any("pip install -r /tmp/requirements.txt" in ins.args for ins in INSTRUCTIONS if ins.keyword == "RUN")
    assert any(ins.args.startswith("requirements.txt ") for ins in INSTRUCTIONS if ins.keyword == "COPY")

    pins = {}
    for line in (BASE_DIR / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"\[.*\]", "", name)] = version
    assert pins
    # What these tests exercise is what the image installs.
    assert {name: metadata.version(name) for name in pins} == pins


def test_the_default_command_is_gunicorn_with_its_config_and_the_entrypoint_is_the_script():
    assert exec_form(final("CMD")[-1].args) == ["gunicorn", "-c", "gunicorn.conf.py", "imagegen.wsgi:application"]
    [entrypoint] = exec_form(final("ENTRYPOINT")[-1].args)
    assert Path(entrypoint) == BASE_DIR / "docker" / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)
    assert "GUNICORN_BIND" in image_env(Path("/tmp"))
    assert image_env(Path("/tmp"))["GUNICORN_BIND"].startswith("0.0.0.0:")


def test_the_healthcheck_probes_healthz():
    [healthcheck] = final("HEALTHCHECK")
    command = exec_form(healthcheck.args.split(" CMD ", 1)[1])

    assert command[0] == "python"
    assert Path(command[1]).read_text().count("/healthz") >= 1


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = {line.strip() for line in (BASE_DIR / ".dockerignore").read_text().splitlines()}

    assert {".git", ".venv", "var", "staticfiles", ".env", ".pytest_cache", "tests/screenshots"} <= ignored


# --- the Dockerfile's steps, run here --------------------------------------------


@pytest.mark.slow
def test_its_collectstatic_step_runs_with_the_build_environment(tmp_path):
    [step] = [ins.args for ins in final("RUN") if "collectstatic" in ins.args]
    assert "DEBUG=0" in step
    assert "SECRET_KEY=" in step

    # Exactly the RUN line, through a shell as the builder runs it.
    result = run(["sh", "-c", step], env=image_env(tmp_path))

    assert result.returncode == 0, result.stderr[-3000:]
    collected = BASE_DIR / "staticfiles"
    assert (collected / "admin" / "css" / "base.css").exists()
    assert (collected / "admin" / "css" / "base.css.gz").exists()  # compressed for WhiteNoise


def test_the_gunicorn_config_loads_with_the_default_command(tmp_path):
    cmd = exec_form(final("CMD")[-1].args)

    result = run([cmd[0], "--check-config", *cmd[1:]], env=image_env(tmp_path, **PRODUCTION_ENV))

    assert result.returncode == 0, result.stderr[-3000:]


def test_the_worker_and_beat_commands_load_the_celery_app_on_sqs(tmp_path):
    env = image_env(
        tmp_path,
        **PRODUCTION_ENV,
        CELERY_BROKER_URL="sqs://",
        AWS_REGION="eu-west-1",
        SQS_QUEUE_NAME="imagegen",
    )
    probe = (
        "import json, celery_app; conf = celery_app.app.conf; "
        "print(json.dumps([conf.broker_url, conf.task_default_queue, conf.broker_transport_options['region']]))"
    )

    loaded = run([sys.executable, "-c", probe], env=env)
    worker_help = run(["celery", "-A", "celery_app", "worker", "--help"], env=env)
    beat_help = run(["celery", "-A", "celery_app", "beat", "--help"], env=env)

    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == ["sqs://", "imagegen", "eu-west-1"]
    assert worker_help.returncode == 0, worker_help.stderr[-3000:]
    assert beat_help.returncode == 0, beat_help.stderr[-3000:]


# --- the entrypoint ------------------------------------------------------------------


def entrypoint(tmp_path: Path, command: list[str], **env: str) -> subprocess.CompletedProcess:
    [script] = exec_form(final("ENTRYPOINT")[-1].args)
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return run([script, *command], env=image_env(tmp_path, **PRODUCTION_ENV, DATABASE_URL=database, **env))


def test_the_entrypoint_migrates_only_when_asked(tmp_path):
    count_tables = (
        "import sqlite3, sys; db = sys.argv[1]; "
        'print(sqlite3.connect(db).execute("select count(*) from sqlite_master where name in '
        "('django_migrations', 'imagegen_cache')\").fetchone()[0])"
    )
    db = str(tmp_path / "db.sqlite3")

    untouched = entrypoint(tmp_path, ["python", "-c", count_tables, db])
    migrated = entrypoint(tmp_path, ["python", "-c", count_tables, db], RUN_MIGRATIONS="1")

    assert untouched.returncode == 0, untouched.stderr[-3000:]
    assert untouched.stdout.strip() == "0"
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert migrated.stdout.strip().splitlines()[-1] == "2"  # migrations ran, and the cache table exists


@contextmanager
def fake_ecs_metadata(ip: str) -> Iterator[str]:
    """The ECS container metadata endpoint (v4), answering with one awsvpc address."""
    body = json.dumps({"Name": "web", "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": [ip]}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/container-id"
    finally:
        server.shutdown()
        server.server_close()


def test_on_ecs_the_entrypoint_adds_the_task_ip_to_allowed_hosts(tmp_path):
    show = ["python", "-c", "import os; print(os.environ['ALLOWED_HOSTS'])"]
    with fake_ecs_metadata("10.0.7.42") as url:
        result = entrypoint(tmp_path, show, ECS_CONTAINER_METADATA_URI_V4=url)

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "images.example.com,10.0.7.42"


def test_off_ecs_or_when_metadata_fails_allowed_hosts_is_left_alone(tmp_path):
    show = ["python", "-c", "import os; print(os.environ['ALLOWED_HOSTS'])"]

    plain = entrypoint(tmp_path, show)
    unreachable = entrypoint(tmp_path, show, ECS_CONTAINER_METADATA_URI_V4=f"http://127.0.0.1:{free_port()}/v4/x")

    assert plain.stdout.strip() == "images.example.com"
    assert unreachable.returncode == 0, unreachable.stderr[-3000:]
    assert unreachable.stdout.strip() == "images.example.com"
    assert "could not read the task metadata" in unreachable.stderr


def get_status(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_the_default_command_serves_healthz_to_its_healthcheck_and_the_load_balancer(tmp_path):
    [script] = exec_form(final("ENTRYPOINT")[-1].args)
    cmd = exec_form(final("CMD")[-1].args)
    [healthcheck] = final("HEALTHCHECK")
    probe = exec_form(healthcheck.args.split(" CMD ", 1)[1])
    port = free_port()
    with fake_ecs_metadata("10.0.7.42") as metadata_url:
        env = image_env(
            tmp_path,
            **PRODUCTION_ENV,
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
            GUNICORN_BIND=f"127.0.0.1:{port}",  # the image binds 0.0.0.0; tests stay on loopback
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="2",
            ECS_CONTAINER_METADATA_URI_V4=metadata_url,
        )
        log_path = tmp_path / "web.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen([script, *cmd], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            healthz = f"http://127.0.0.1:{port}/healthz"
            wait_http_with_host(healthz, "images.example.com", proc, log_path)
            from_the_site = get_status(healthz, "images.example.com")

            healthcheck_result = run(probe, env=env, timeout=30)
            # An ALB health check names the task's IP, which the entrypoint allowed.
            from_load_balancer = get_status(healthz, f"10.0.7.42:{port}")
            from_elsewhere = get_status(healthz, "10.9.9.9")
        finally:
            stop(proc)

    assert from_the_site == 200
    assert healthcheck_result.returncode == 0, healthcheck_result.stderr
    assert from_load_balancer == 200
    assert from_elsewhere == 400


def wait_http_with_host(url: str, host: str, proc: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    """Wait until gunicorn answers ``url`` for ``host`` (wait_http would send the URL's own host, which is refused)."""

    def answers() -> bool:
        try:
            get_status(url, host)
        except OSError:
            return False
        return True

    wait_for(answers, timeout=timeout, process=proc, log=log_path, what=f"{url} to answer")


# --- docker-compose.yml ------------------------------------------------------------

COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
APP_SERVICES = ["aws-setup", "web", "worker", "beat"]


def test_compose_runs_the_production_shape_from_one_image():
    services = COMPOSE["services"]

    assert set(services) == {"postgres", "redis", "localstack", "secret-init", *APP_SERVICES}
    assert {services[name]["build"] for name in ["secret-init", *APP_SERVICES]} == {"."}
    assert len({services[name]["image"] for name in ["secret-init", *APP_SERVICES]}) == 1
    assert services["aws-setup"]["command"] == ["python", "manage.py", "aws_setup"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "celery_app", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "celery_app", "beat"]
    assert "gunicorn -c gunicorn.conf.py" in " ".join(services["web"]["command"])


def test_compose_puts_the_app_on_postgres_sqs_and_s3_through_localstack():
    for name in APP_SERVICES:
        env = COMPOSE["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"] == "sqs://"
        assert env["AWS_ENDPOINT_URL"] == "http://localstack:4566"
        assert env["IMAGE_S3_BUCKET"]
        assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"  # throttle counters shared by every web process
    assert COMPOSE["services"]["web"]["environment"]["RUN_MIGRATIONS"] == "1"
    assert "RUN_MIGRATIONS" not in COMPOSE["services"]["worker"]["environment"]
    assert set(COMPOSE["services"]["localstack"]["environment"]["SERVICES"].split(",")) == {"sqs", "s3"}


def test_compose_starts_things_in_order():
    depends = {name: service.get("depends_on", {}) for name, service in COMPOSE["services"].items()}

    secret = {"secret-init": {"condition": "service_completed_successfully"}}

    assert depends["secret-init"] == {}
    assert depends["aws-setup"] == {**secret, "localstack": {"condition": "service_healthy"}}
    assert depends["web"]["aws-setup"] == {"condition": "service_completed_successfully"}
    assert depends["web"]["postgres"] == {"condition": "service_healthy"}
    assert depends["web"]["redis"] == {"condition": "service_healthy"}
    assert depends["worker"] == {**secret, "web": {"condition": "service_healthy"}}  # after the migrations
    assert depends["beat"] == {**secret, "web": {"condition": "service_healthy"}}
    for name in APP_SERVICES:  # every one reads the generated key
        assert depends[name]["secret-init"] == {"condition": "service_completed_successfully"}
    for name in ("secret-init", "aws-setup", "worker", "beat"):  # no HTTP server to probe
        assert COMPOSE["services"][name]["healthcheck"] == {"disable": True}


def test_compose_sets_only_variables_env_example_documents():
    documented = (BASE_DIR / ".env.example").read_text()
    used = {key for name in APP_SERVICES for key in COMPOSE["services"][name]["environment"]}
    # And the ones compose itself reads from the shell or .env, e.g. ${IMAGEGEN_BIND:-127.0.0.1}.
    used |= set(re.findall(r"\$\{(\w+)", (BASE_DIR / "docker-compose.yml").read_text()))

    undocumented = sorted(key for key in used if not re.search(rf"\b{key}\b", documented))

    assert undocumented == []


def with_defaults(value: str) -> str:
    """A compose value as it is when the shell and .env set nothing: ``${NAME:-default}`` becomes ``default``."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", value)


def test_compose_publishes_its_ports_on_loopback_only_by_default():
    published = [with_defaults(port) for service in COMPOSE["services"].values() for port in service.get("ports", [])]

    assert published  # the site and LocalStack (for presigned URLs) are reachable from this machine
    for port in published:
        host, _, rest = port.partition(":")
        assert host == "127.0.0.1", port
        assert rest.count(":") == 1, port


def test_compose_commits_no_secret_key_and_runs_with_debug_off():
    text = (BASE_DIR / "docker-compose.yml").read_text()
    [secret_volume] = [v for v in COMPOSE["services"]["secret-init"]["volumes"] if v.startswith("secrets:")]
    secrets_dir = secret_volume.split(":")[1]

    assert "SECRET_KEY:" not in text
    assert "secrets" in COMPOSE["volumes"]
    assert secrets_dir + "/" in " ".join(COMPOSE["services"]["secret-init"]["command"])
    for name in APP_SERVICES:
        service = COMPOSE["services"][name]
        env = service["environment"]
        assert "SECRET_KEY" not in env
        assert env["DEBUG"] == "0"
        assert env["SECRET_KEY_FILE"].startswith(secrets_dir + "/")
        assert f"secrets:{secrets_dir}:ro" in service["volumes"], name


def test_compose_creates_no_demo_user():
    web = " ".join(COMPOSE["services"]["web"]["command"])

    assert "ensure_demo_user" not in web
    assert COMPOSE["services"]["web"]["environment"]["DEBUG"] == "0"  # ensure_demo_user would do nothing anyway


def test_compose_brings_back_a_worker_that_exits():
    for name in ("web", "worker", "beat"):
        assert COMPOSE["services"][name]["restart"] == "unless-stopped", name
    for name in ("secret-init", "aws-setup"):  # one-shots
        assert COMPOSE["services"][name]["restart"] == "no", name


def test_the_secrets_folder_is_one_the_runtime_user_owns():
    # A new named volume takes the owner of the image folder it is mounted on: the key's writer is not root.
    secrets_dir = COMPOSE["services"]["secret-init"]["volumes"][0].split(":")[1]
    user = final("USER")[-1].args

    assert any(secrets_dir in ins.args.split("&&")[0] and f"chown {user}:{user}" in ins.args and
               secrets_dir in ins.args.split("chown", 1)[1] for ins in final("RUN"))  # fmt: skip


def test_secret_init_writes_a_key_once_that_web_worker_and_beat_read(tmp_path):
    raw = COMPOSE["services"]["secret-init"]["command"]
    assert raw[-1].startswith("/app/secrets/")
    key_file = raw[-1].replace("/app/secrets/", f"{tmp_path}/secrets/")
    command = exec_form(json.dumps(raw[:-1]))
    env = image_env(tmp_path, **{**COMPOSE["services"]["web"]["environment"], "SECRET_KEY_FILE": key_file})
    env.pop("DATABASE_URL")
    probe = [sys.executable, "-c", "from django.conf import settings as s; import django; print(s.SECRET_KEY)"]
    env["DJANGO_SETTINGS_MODULE"] = "imagegen.settings"

    first = run([*command, key_file], env=env)
    key = Path(key_file).read_text().strip()
    second = run([*command, key_file], env=env)
    loaded = run(probe, env=env)

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert len(key) >= 50
    assert Path(key_file).read_text().strip() == key  # kept across restarts
    assert oct(Path(key_file).stat().st_mode & 0o777) == "0o600"
    assert key not in first.stdout + first.stderr + second.stdout + second.stderr
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip().splitlines()[-1] == key


def _compose_command() -> list[str] | None:
    """The installed compose client, if any: a bare ``docker`` CLI without the compose plugin does not count."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_docker_compose_accepts_the_file():
    compose = _compose_command()
    if compose is None:
        pytest.skip("no docker compose client installed")

    result = subprocess.run(
        [*compose, "-f", "docker-compose.yml", "config", "--quiet"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr


# --- docs/iam-policy.json ----------------------------------------------------------

POLICY = json.loads((BASE_DIR / "docs" / "iam-policy.json").read_text())


def statements() -> list[dict]:
    return POLICY["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_the_iam_policy_grants_no_wildcard_action_and_nothing_but_allow():
    actions = [action for st in statements() for action in as_list(st["Action"])]

    assert POLICY["Version"] == "2012-10-17"
    assert all(st["Effect"] == "Allow" for st in statements())
    assert all("NotAction" not in st and "NotResource" not in st for st in statements())
    assert not [action for action in actions if "*" in action]


def test_the_iam_policy_covers_what_kombu_and_django_storages_call_and_no_admin_actions():
    granted = {action for st in statements() for action in as_list(st["Action"])}

    # Seen against moto: worker start, publish, consume, ack; S3 save (multipart too), exists, open, delete,
    # /readyz's HeadBucket. ChangeMessageVisibility: kombu releases prefetched messages on shutdown.
    assert {
        "sqs:ListQueues",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
    } <= granted
    assert not granted & {"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:PurgeQueue", "sqs:SetQueueAttributes"}
    assert not granted & {"s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy", "s3:PutObjectAcl"}


def test_the_iam_policy_scopes_every_resource_to_our_queues_and_image_prefix():
    resources = {resource for st in statements() for resource in as_list(st["Resource"])}

    assert "*" not in resources
    wildcards = {resource for resource in resources if "*" in resource}
    # ListQueues has no per-queue resource; objects are limited to the image prefixes (images/: the old layout).
    assert wildcards == {
        "arn:aws:sqs:REGION:ACCOUNT_ID:*",
        "arn:aws:s3:::BUCKET_NAME/public/*",
        "arn:aws:s3:::BUCKET_NAME/private/*",
        "arn:aws:s3:::BUCKET_NAME/images/*",
    }
    [list_queues] = [st for st in statements() if "sqs:ListQueues" in as_list(st["Action"])]
    assert as_list(list_queues["Action"]) == ["sqs:ListQueues"]
    queue_resources = {r for st in statements() for r in as_list(st["Resource"]) if r.startswith("arn:aws:sqs")}
    assert queue_resources - {"arn:aws:sqs:REGION:ACCOUNT_ID:*"} == {
        "arn:aws:sqs:REGION:ACCOUNT_ID:QUEUE_NAME",
        "arn:aws:sqs:REGION:ACCOUNT_ID:DLQ_NAME",
    }
