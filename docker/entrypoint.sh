#!/bin/sh
# Entrypoint of the Imagegen image. Prepares the environment, then runs the
# command: gunicorn by default, `celery -A celery_app worker` or
# `celery -A celery_app beat` for the other two roles.
#
#   RUN_MIGRATIONS=1   run `migrate` and `createcachetable` before the command
#                      (docker compose's web service; on ECS a one-off task).
set -eu
cd "$(dirname "$0")/.."

# On ECS the load balancer's health checks carry the task's private IP as the
# Host header, which Django refuses unless ALLOWED_HOSTS lists it. The ECS agent
# tells each container its address; add it (only on ECS, only that address).
if [ -n "${ECS_CONTAINER_METADATA_URI_V4:-}" ]; then
    if task_ips="$(python docker/ecs_task_ip.py)" && [ -n "$task_ips" ]; then
        export ALLOWED_HOSTS="${ALLOWED_HOSTS:+$ALLOWED_HOSTS,}$task_ips"
    fi
fi

if [ "${RUN_MIGRATIONS:-0}" = "1" ]; then
    python manage.py migrate --noinput
    python manage.py createcachetable
fi

exec "$@"
