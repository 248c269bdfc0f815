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
COPY models/ models/
COPY service/ service/
COPY docker/entrypoint.sh /usr/local/bin/entrypoint

USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/entrypoint"]
