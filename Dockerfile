# mod-users as FOLIO runs its modules: one process, listening on 8081, an external PostgreSQL named by DB_HOST
# (and DB_PORT, DB_USERNAME, DB_PASSWORD, DB_DATABASE, DB_SERVER_PEM), the launchDescriptor's environment.
#
#   docker build -t mod-users:0.1.0 .                      the module (no database server inside)
#   docker build --target demo -t mod-users-demo:0.1.0 .   all in one, for trying it: the embedded PostgreSQL
#
# The wheel is built from the checkout with the build backend constraints.txt pins, and installed with the
# versions of constraints.txt, as CI installs them.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY mod_users ./mod_users
COPY ramls ./ramls
COPY schemas ./schemas
COPY descriptors ./descriptors
COPY reference-data ./reference-data
COPY sample-data ./sample-data
# PIP_CONSTRAINT, not --constraint: pip hands the environment on to the isolated build environment it makes
# for pyproject's build-system (setuptools), and only so does the lock decide the backend's version too.
RUN PIP_CONSTRAINT=/src/constraints.txt pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim-bookworm AS base
# FOLIO's images run their module as the unprivileged user folio.
RUN groupadd --system folio && useradd --system --gid folio --home-dir /home/folio --create-home folio
COPY --from=build /src/constraints.txt /tmp/constraints.txt
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir --constraint /tmp/constraints.txt /tmp/dist/*.whl && rm -r /tmp/dist /tmp/constraints.txt
ENV HTTP_PORT=8081 \
    POLARIS_PORT=8082 \
    PYTHONUNBUFFERED=1
WORKDIR /home/folio
# 8081: the FOLIO port (behind Okapi / Eureka); 8082: Polaris clients' own listener (PAS, PWS), to publish
# where those clients reach it, behind TLS.
EXPOSE 8081 8082
# Okapi and Eureka's sidecar ask the same: 200 when the service and its database answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/admin/health' % os.environ.get('HTTP_PORT', '8081'), timeout=4)"
CMD ["mod-users", "serve"]

# All in one: the module with its own PostgreSQL server, data in the volume. Not for production.
FROM base AS demo
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/mod-users/data && chown -R folio:folio /var/lib/mod-users
ENV MOD_USERS_DATA_DIR=/var/lib/mod-users/data
VOLUME /var/lib/mod-users
USER folio

# The default target: the module alone.
FROM base AS module
USER folio
