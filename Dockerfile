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
    MOD_USERS_DATA_DIR=/var/lib/mod-users/data
VOLUME /var/lib/mod-users
EXPOSE 8081

CMD ["mod-users", "serve"]
