#!/usr/bin/env bash
# Starts the PostgreSQL and Redis servers the test suite uses, if they are not running, and makes
# the test role and databases. Idempotent.
set -euo pipefail
PG_USER=${WP_TEST_PG_USER:-watchparty}
PG_PASS=${WP_TEST_PG_PASSWORD:-watchparty}
PG_DBS=(watchparty watchparty_test)

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
    pg_createcluster "$ver" main >/dev/null
  fi
  pg_ctlcluster "$ver" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtA -c \"$1\"" ; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'")" != "1" ]; then
  psql_admin "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASS' CREATEDB"
fi
for db in "${PG_DBS[@]}"; do
  if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='$db'")" != "1" ]; then
    psql_admin "CREATE DATABASE $db OWNER $PG_USER"
  fi
done

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --logfile /tmp/watchparty-redis.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
echo "services: postgresql $(pg_isready -h 127.0.0.1 -p 5432 | cut -d- -f2) redis $(redis-cli -h 127.0.0.1 ping)"

# The Docker engine, for the docker runtime and the browser image tests.
if command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  (dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 && echo "services: docker engine started" || echo "services: docker engine did not start (see /var/log/dockerd.log)"
fi
