# Imagegen: one image for all three roles.
#
#   docker build -t imagegen .
#   docker run -p 8000:8000 -e SECRET_KEY=... -e ALLOWED_HOSTS=... imagegen    # web (the default command)
#   docker run imagegen celery -A celery_app worker --loglevel INFO              # worker
#   docker run imagegen celery -A celery_app beat --loglevel INFO                # beat
#
# RUN_MIGRATIONS=1 makes the entrypoint run `migrate` and `createcachetable`
# before the command. docker-compose.yml and docs/deploy-aws.md show the rest.

# --- build: the virtualenv, from wheels only (nothing compiles) ----------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

# --- runtime ---------------------------------------------------------------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IMAGEGEN_VAR_DIR=/app/var \
    GUNICORN_BIND=0.0.0.0:8000
RUN groupadd --system --gid 10001 imagegen \
    && useradd --system --uid 10001 --gid imagegen --home-dir /app --no-create-home --shell /usr/sbin/nologin imagegen
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY . .
# Static files are collected (and compressed for WhiteNoise) into the image. The
# settings only need to load: a throwaway key and host, DEBUG off as in production.
RUN DEBUG=0 SECRET_KEY=collectstatic-at-build-time-only ALLOWED_HOSTS=build.invalid IMAGEGEN_VAR_DIR="$(mktemp -d)" python manage.py collectstatic --noinput
# The one folder the app writes to (beat's schedule; SQLite and media when no
# DATABASE_URL or bucket is set). Mount a volume here to keep it. /app/secrets
# is where docker compose keeps its generated SECRET_KEY: a new named volume
# takes the owner of the folder it is mounted on.
RUN mkdir -p /app/var /app/secrets && chown imagegen:imagegen /app/var /app/secrets
USER imagegen
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "imagegen.wsgi:application"]
