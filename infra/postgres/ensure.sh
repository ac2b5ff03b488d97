#!/usr/bin/env bash
# Ensure the local PostgreSQL (127.0.0.1:5432, trust auth) is running and the test database ewx_test exists.
set -euo pipefail

DB=ewx_test
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1)

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  VERSION="$(ls /etc/postgresql | sort -V | tail -n 1)"
  echo "postgres: not running, starting cluster $VERSION/main"
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start
  for ((i = 0; i < 60; i++)); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.5
  done
  pg_isready -h 127.0.0.1 -p 5432 || { echo "postgres: not ready after 30s" >&2; exit 1; }
fi

"${PSQL[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 ||
  "${PSQL[@]}" -qc "CREATE DATABASE $DB"
echo "postgres: ready at postgres://postgres@127.0.0.1:5432/$DB"
