# syntax=docker/dockerfile:1
# Build: the wheel and its locked dependencies into a virtual environment.
FROM python:3.12-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY app ./app
RUN uv sync --frozen --no-dev --no-editable

# Run: only the virtual environment, as an unprivileged user.
FROM python:3.12-slim AS runtime
RUN groupadd --system app && useradd --system --gid app --home-dir /srv app
COPY --from=build /src/.venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1 ENVIRONMENT=production LOG_FORMAT=json
WORKDIR /srv
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2).status != 200)"]
# serve applies migrations first (safe when several replicas start at once), then runs
# uvicorn with --timeout-graceful-shutdown so that background loops hand back their leases.
CMD ["events-face", "serve", "--host", "0.0.0.0", "--port", "8000"]
