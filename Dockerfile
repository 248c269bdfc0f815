# The classification app: `docker run IMAGE /images/` runs the classify CLI, `docker run -p 8080:8080 IMAGE`
# (no arguments, or `serve`) runs the HTTP API under gunicorn. Serving dependencies only: no TensorFlow, the
# bundled models run through LiteRT. Built in CI without a Docker engine by scripts/container-check.sh.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8080

RUN groupadd --system --gid 10001 app \
    && useradd --system --create-home --uid 10001 --gid app app

WORKDIR /app

# Dependencies in their own layer, before the code: editing code does not reinstall them.
# The PIP_* build arguments let a build behind a mirror or a TLS-inspecting proxy reach its index; unset by default.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_CERT
COPY requirements.txt ./
RUN python -m venv "$VIRTUAL_ENV" \
    && pip install --no-cache-dir -r requirements.txt

COPY app.py gunicorn.conf.py pyproject.toml ./
COPY templates/ templates/
COPY static/ static/
# The service user owns the models and its state folder: mounted as volumes (compose, Kubernetes) they start as a
# copy of these, and training publishes new versions and job records into them.
COPY --chown=10001:10001 models/ models/
COPY service/ service/
# The API checks a training config before queueing it (plain Python; the training itself runs where TensorFlow is).
COPY training/__init__.py training/config.py training/network_args.py training/
COPY docker/entrypoint.sh /usr/local/bin/entrypoint
RUN install -d -o 10001 -g 10001 /app/var

USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/entrypoint"]
