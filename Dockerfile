# mod-users with its embedded PostgreSQL; set DB_HOST (and DB_*) to use an external database instead.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /usr/src/mod-users
COPY pyproject.toml README.md ./
COPY mod_users ./mod_users
RUN pip install --no-cache-dir -e .
COPY ramls ./ramls
COPY schemas ./schemas
COPY descriptors ./descriptors
COPY reference-data ./reference-data
COPY sample-data ./sample-data

ENV HTTP_PORT=8081 \
    POLARIS_PORT=8082 \
    MOD_USERS_DATA_DIR=/var/lib/mod-users/data
VOLUME /var/lib/mod-users
# 8081: the FOLIO port (behind Okapi / Eureka); 8082: Polaris clients' own listener (PAS, PWS), to publish
# where those clients reach it, behind TLS.
EXPOSE 8081 8082

CMD ["mod-users", "serve"]
