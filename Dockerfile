# Sentri in one container: waitress serving the app, Playwright's own Chromium for the runs.
# Keep in step with the Makefile: same constraints file, same npm lock file, same
# migrations-on-start (python app.py).

# Browser-side libraries (web-vitals) from the npm registry, exactly as package-lock.json pins them.
FROM node:20-bookworm-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PLAYWRIGHT_BROWSERS_PATH=/ms-playwright \
    FLASK_APP=app \
    SENTRI_HOST=0.0.0.0 \
    SENTRI_PORT=8000 \
    SENTRI_INSTANCE_PATH=/app/instance

WORKDIR /app

# Dependencies first so that a code change does not reinstall them.
COPY setup.cfg pyproject.toml constraints.txt README.md ./
RUN mkdir sentri && touch sentri/__init__.py \
    && pip install -c constraints.txt -e . \
    && rm -rf sentri sentri.egg-info

# Playwright's managed Chromium and the OS libraries it needs (as root, before dropping privileges).
RUN python -m playwright install --with-deps chromium \
    && rm -rf /var/lib/apt/lists/*

COPY . .
COPY --from=assets /assets/node_modules ./node_modules
RUN pip install -c constraints.txt --no-deps -e . \
    && useradd --create-home --uid 10001 sentri \
    && mkdir -p /app/instance \
    && chown -R sentri:sentri /app/instance

USER 10001
VOLUME ["/app/instance"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Migrates, creates the first admin (printed once to the log) and serves with waitress.
CMD ["python", "app.py"]
