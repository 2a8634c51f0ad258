# syntax=docker/dockerfile:1
# The Mastery Engine image: `mastery-engine serve` by default; the same image runs `consume`,
# `purge` and `migrate` (see docs/deploying.md).
#
# Two stages on one pinned base: the builder turns the project into a wheel and installs it,
# with its redis, postgres, kafka and tracing extras (not `fit`: model fitting is offline),
# into /opt/venv; the final stage holds only that virtualenv. Every dependency ships a manylinux wheel (uvloop, httptools, orjson, hiredis,
# psycopg[binary], confluent-kafka, cryptography), so no compiler is needed in either stage.
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY src ./src
# The wheel first, then the wheel with its extras: the image holds exactly what a release holds.
RUN /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir "$(ls /wheels/mastery_engine-*.whl)[redis,postgres,kafka,tracing]" \
    && /opt/venv/bin/mastery-engine --help > /dev/null

FROM ${PYTHON_IMAGE}
# A fixed, unprivileged identity: Kubernetes' runAsUser/runAsGroup name the same numbers.
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" mastery \
    && useradd --system --uid "${APP_UID}" --gid mastery --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin mastery \
    && install -d -o "${APP_UID}" -g "${APP_UID}" -m 0750 /var/lib/mastery-engine
COPY --from=builder /opt/venv /opt/venv
# The venv's modules are compiled at install time; a read-only root file system needs no more.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MASTERY_HOST=0.0.0.0 \
    MASTERY_PORT=8000 \
    MASTERY_LOG_FORMAT=json
# `docker run` without MASTERY_STORE_URL keeps the default SQLite file here (mount a volume).
WORKDIR /var/lib/mastery-engine
USER 10001:10001
EXPOSE 8000
# The slim image has no curl: the probe is Python's standard library. `consume` serves no
# /healthz: run it with --no-healthcheck (Kubernetes ignores HEALTHCHECK and probes itself).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MASTERY_PORT', '8000'), timeout=3)"]
# uvicorn and the Kafka consumer both finish their work in hand on SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["mastery-engine"]
CMD ["serve"]
