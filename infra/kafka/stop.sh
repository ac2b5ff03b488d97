#!/usr/bin/env bash
# Stop the Kafka broker started by infra/kafka/start.sh (uses <repo>/.infra/kafka/kafka.pid).
# Sends SIGTERM (clean controlled shutdown), waits up to 30 s, then SIGKILL as a last resort.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PIDFILE="$ROOT/.infra/kafka/kafka.pid"

PID="$(cat "$PIDFILE" 2>/dev/null || true)"
# Only touch the process if it really is our broker (guards against a stale file / reused pid).
if [ -z "$PID" ] || ! grep -qa kafka.Kafka "/proc/$PID/cmdline" 2>/dev/null; then
  echo "kafka: not running (no live broker in $PIDFILE)"
  rm -f "$PIDFILE"
  exit 0
fi

kill "$PID"
for ((i = 0; i < 60; i++)); do
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.5
done
if kill -0 "$PID" 2>/dev/null; then
  echo "kafka: pid $PID did not exit after 30s, killing"
  kill -9 "$PID" 2>/dev/null || true
fi
rm -f "$PIDFILE"
echo "kafka: stopped (pid $PID)"
