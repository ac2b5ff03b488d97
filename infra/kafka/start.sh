#!/usr/bin/env bash
# Start a single-node Apache Kafka broker (KRaft, broker+controller) on 127.0.0.1:9092 for tests/CI.
# Jars come from Maven Central via infra/kafka/pom.xml; all runtime state lives in <repo>/.infra/kafka
# (git-ignored). Idempotent: exits 0 at once if a Kafka broker already answers on 127.0.0.1:9092.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$ROOT/.infra/kafka"
LIBS="$DIR/libs" DATA="$DIR/data" LOG="$DIR/kafka.log" PIDFILE="$DIR/kafka.pid"
PORT=9092 CONTROLLER_PORT=9093 READY_TIMEOUT=90

# True if a Kafka broker answers an ApiVersions v0 request (correlation id 1) on 127.0.0.1:$PORT.
kafka_answers() {
  local resp
  resp=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT &&
    printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff' >&3 &&
    head -c 10 <&3 | od -An -tx1" 2>/dev/null | tr -d ' \n') || return 1
  [ "${resp:8:12}" = "000000010000" ]   # after the 4-byte size: correlation id 1, error code 0
}

if kafka_answers; then
  echo "kafka: already running on 127.0.0.1:$PORT"
  exit 0
fi

mkdir -p "$DIR"

# 1. Fetch the broker jars once (re-fetch only when pom.xml changes). ~/.m2 caches across runs.
if ! cmp -s "$ROOT/infra/kafka/pom.xml" "$LIBS/.pom.xml" || ! ls "$LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then
  echo "kafka: fetching broker jars with Maven..."
  rm -rf "$LIBS"
  mvn -B -q -f "$ROOT/infra/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIBS" \
    > "$DIR/mvn.log" 2>&1 || { cat "$DIR/mvn.log" >&2; exit 1; }
  cp "$ROOT/infra/kafka/pom.xml" "$LIBS/.pom.xml"
fi

# 2. Config (rewritten every start) + log4j config that logs to stdout (captured in kafka.log).
cat > "$DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
log.dirs=$DATA
num.partitions=3
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
PROPS
cat > "$DIR/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.kafka.log.LogCleaner=WARN
PROPS

JAVA_OPTS=(-Xmx512m -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$DIR/log4j.properties" -cp "$LIBS/*")

# 3. Format KRaft storage once. The cluster id (22-char base64url of 16 random bytes, like
#    `StorageTool random-uuid`) is made in bash: StorageTool's stdout also carries log lines.
if [ ! -f "$DATA/meta.properties" ]; then
  until grep -qE '^[A-Za-z0-9_][A-Za-z0-9_-]{21}$' "$DIR/cluster.id" 2>/dev/null; do
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$DIR/cluster.id"
  done
  java "${JAVA_OPTS[@]}" kafka.tools.StorageTool format -t "$(cat "$DIR/cluster.id")" \
    -c "$DIR/server.properties" --ignore-formatted > "$DIR/format.log" 2>&1 ||
    { cat "$DIR/format.log" >&2; exit 1; }
fi

# 4. Start in background unless our own broker process is still alive (e.g. still starting up).
PID="$(cat "$PIDFILE" 2>/dev/null || true)"
if [ -n "$PID" ] && grep -qa kafka.Kafka "/proc/$PID/cmdline" 2>/dev/null; then
  echo "kafka: broker process $PID already starting, waiting for it"
else
  [ -f "$LOG" ] && mv "$LOG" "$LOG.1"
  nohup java "${JAVA_OPTS[@]}" kafka.Kafka "$DIR/server.properties" > "$LOG" 2>&1 < /dev/null &
  PID=$!
  echo "$PID" > "$PIDFILE"
fi

# 5. Wait (up to READY_TIMEOUT s) until the broker answers a protocol request, not just a TCP connect.
fail() {
  echo "kafka: $1; first errors and last log lines of $LOG:" >&2
  grep -E '^\[.*\] (ERROR|FATAL)' "$LOG" | head -n 5 >&2 || true
  echo "..." >&2; tail -n 25 "$LOG" >&2
  exit 1
}
deadline=$((SECONDS + READY_TIMEOUT))
until kafka_answers; do
  kill -0 "$PID" 2>/dev/null || { rm -f "$PIDFILE"; fail "broker process $PID exited during startup"; }
  [ "$SECONDS" -lt "$deadline" ] || fail "not ready after ${READY_TIMEOUT}s (pid $PID still running)"
  sleep 0.5
done
echo "kafka: ready on 127.0.0.1:$PORT (pid $PID)"
