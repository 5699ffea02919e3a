# syntax=docker/dockerfile:1
# Watch Party control plane: the API (`watchparty serve`), the Celery worker (`watchparty
# worker`), Celery beat (`watchparty beat`) and the schema upgrade (`watchparty migrate`), all
# from this one image: the `watchparty` CLI is the entrypoint.
#
#   docker build -t watchparty/controlplane:dev .        # any engine with registry access
#   bash controlplane-image/build.sh                      # here: offline-capable, see there
#
# The web app: when frontend/package.json is in the context, the `web` stage runs `npm ci` and
# `npm run build` and the image serves frontend/dist from WEB_DIR. Without it the stage leaves
# WEB_DIR empty, so the image builds before and after the web app lands, with no change here.
# Vite needs Node >= 20.19, Debian bookworm ships 18: the web stage uses NODE_IMAGE (a Node 20 on
# bookworm). controlplane-image/build.sh makes a local stand-in of that tag when none can be
# pulled.
#
# Optional extra CA (TLS-intercepting proxies): PEM files (*.crt, *.pem) in
# controlplane-image/extra-ca/ are trusted by pip and npm in the build stages only; they never
# reach the final image.

ARG BASE_IMAGE=debian:bookworm-slim
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# Stage 1: the web app's static build (empty when there is no frontend/ yet).
FROM ${NODE_IMAGE} AS web
COPY controlplane-image/extra-ca/ /tmp/extra-ca/
# `frontend*` matches nothing until the web app exists; the README keeps the COPY valid then.
COPY controlplane-image/extra-ca/README.md frontend* /src/
WORKDIR /src
RUN set -eu; \
    cat /tmp/extra-ca/*.crt /tmp/extra-ca/*.pem 2>/dev/null > /tmp/extra-ca.pem || true; \
    if [ -s /tmp/extra-ca.pem ]; then export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi; \
    mkdir -p /web; \
    if [ -f package.json ]; then \
      npm ci --no-audit --no-fund --loglevel=error; \
      npm run build; \
      cp -a dist/. /web/; \
    else \
      echo "no frontend/package.json: the image carries no web app"; \
    fi

# ---------------------------------------------------------------------------------------------
# Stage 2: the Python environment (dependencies from pyproject.toml).
FROM ${BASE_IMAGE} AS venv
ARG DEBIAN_FRONTEND=noninteractive
# Extra pip options, e.g. --index-url for a local mirror.
ARG PIP_EXTRA_ARGS=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY controlplane-image/extra-ca/ /tmp/extra-ca/
RUN set -eu; \
    n=0; \
    for f in /tmp/extra-ca/*.crt /tmp/extra-ca/*.pem; do \
      [ -s "$f" ] || continue; \
      n=$((n + 1)); \
      cp "$f" "/usr/local/share/ca-certificates/extra-ca-$n.crt"; \
    done; \
    echo "extra CA files: $n"; \
    update-ca-certificates >/dev/null
# Only pyproject.toml here, so a code change does not reinstall the dependencies.
COPY pyproject.toml /tmp/pyproject.toml
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && python3 -m venv /opt/venv \
 && PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    /opt/venv/bin/pip install --prefer-binary \
      --cert /etc/ssl/certs/ca-certificates.crt ${PIP_EXTRA_ARGS} \
      -r /tmp/requirements.txt \
 && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------
# Stage 3: the runtime image.
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# iptables: `watchparty firewall` (the compose stack's room-firewall service) applies the rooms'
# egress rules from this image; tini reaps children and forwards signals as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 iptables tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log

RUN groupadd --gid 10001 watchparty \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin watchparty

COPY --from=venv /opt/venv /opt/venv
# The source tree keeps its repository layout: `watchparty migrate` finds alembic.ini and
# migrations/ next to the controlplane package.
COPY alembic.ini /opt/watchparty/alembic.ini
COPY migrations/ /opt/watchparty/migrations/
COPY wire/watchparty_wire/ /opt/watchparty/watchparty_wire/
COPY controlplane/ /opt/watchparty/controlplane/
COPY controlplane-image/watchparty /usr/local/bin/watchparty
COPY controlplane-image/healthcheck.py /usr/local/lib/watchparty/healthcheck.py
COPY --from=web /web/ /opt/watchparty/web/
RUN chmod 0755 /usr/local/bin/watchparty \
 && find /opt/watchparty -name '__pycache__' -type d -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /opt/watchparty/controlplane /opt/watchparty/watchparty_wire /opt/watchparty/migrations \
 && chmod -R a+rX,go-w /opt/watchparty

# DATA_DIR: only embedded mode (SQLite) writes there; production uses DATABASE_URL.
# WEB_DIR: the web app's build (empty when the image was built without frontend/).
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/opt/watchparty \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    DATA_DIR=/tmp/watchparty \
    WEB_DIR=/opt/watchparty/web

USER 10001:10001
WORKDIR /tmp
# 8000: the web app and the API; 8001: the room agents' channel (AGENT_PORT), for rooms only.
EXPOSE 8000 8001

# /healthz: the process answers (readiness, /readyz, also needs the database and Redis).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/bin/python3", "/usr/local/lib/watchparty/healthcheck.py"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/watchparty"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

LABEL org.opencontainers.image.title="watchparty-controlplane" \
      org.opencontainers.image.description="Watch Party control plane: API, Celery worker and beat, migrations" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Watch Party"
