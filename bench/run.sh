#!/usr/bin/env bash
# bench/run.sh — `make bench`: a short load run of every imload scenario against a fresh imserver with its
# own (embedded, durable) PostgreSQL on this machine, then the Go benchmarks of the hot paths.
#
# Everything stays on loopback. The server gets a temporary data directory, a random port and a random
# secret, and is stopped (and its data removed) at the end. The results (imload's table and JSON, the Go
# benchmark output, the server log) are kept in $BENCH_OUT (default: a new /tmp/imbench-results.* dir).
#
# Knobs (environment):
#   BENCH_DURATION   seconds each message scenario sends (default 10)
#   BENCH_PAIRS      sender/receiver pairs of the pairs scenarios (default 50)
#   BENCH_SENDERS    senders of the hot scenarios (default 20)
#   BENCH_MEMBERS    members of the fanout group (default 1000)
#   BENCH_IDLE_CONNS idle connections (default 5000; needs ulimit -n above it, for imload and for the server)
#   BENCH_IDLE_HOLD  how long the idle connections are held (default 25s; the server pings after 20 s)
#   BENCH_SCENARIOS  override the whole scenario list given to imload
#   BENCH_GO=0       skip the Go benchmarks; BENCH_GO_TIME (default 1s) is their -benchtime
#   IMSERVER_BIN     run this server binary instead of building ./server/cmd/imserver
#   IMLOAD_BIN       run this imload instead of building ./load/cmd/imload
#   BENCH_CHARTS=0   skip the SVG charts (bench/chart) written next to the table
#   KEEP=1           keep the server's data directory
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}

DURATION=${BENCH_DURATION:-10}
PAIRS=${BENCH_PAIRS:-50}
SENDERS=${BENCH_SENDERS:-20}
MEMBERS=${BENCH_MEMBERS:-1000}
IDLE_CONNS=${BENCH_IDLE_CONNS:-5000}
IDLE_HOLD=${BENCH_IDLE_HOLD:-25s}
GO_TIME=${BENCH_GO_TIME:-1s}

log() { printf 'bench: %s\n' "$*" >&2; }

# Every connection is a file descriptor in imload and another in the server: take what the hard limit allows.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then hard=1048576; fi
ulimit -n "$hard" 2>/dev/null || true
if (( $(ulimit -n) < IDLE_CONNS + 512 )); then
	new=$(( $(ulimit -n) - 512 ))
	log "ulimit -n is $(ulimit -n) (hard $hard): holding $new idle connections instead of $IDLE_CONNS"
	IDLE_CONNS=$new
fi

WORK=$(mktemp -d /tmp/imbench.XXXXXX)
OUT=${BENCH_OUT:-$(mktemp -d /tmp/imbench-results.XXXXXX)}
mkdir -p "$OUT"
SERVER_PID=

cleanup() {
	local rc=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		log "stopping imserver (pid $SERVER_PID)"
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 300); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	[[ -f $WORK/server.log ]] && cp "$WORK/server.log" "$OUT/server.log"
	if [[ ${KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building imserver and imload"
if [[ -n ${IMSERVER_BIN:-} ]]; then cp "$IMSERVER_BIN" "$WORK/imserver"; else $GO build -o "$WORK/imserver" ./server/cmd/imserver; fi
if [[ -n ${IMLOAD_BIN:-} ]]; then cp "$IMLOAD_BIN" "$WORK/imload"; else $GO build -o "$WORK/imload" ./load/cmd/imload; fi

# A free port below the ephemeral range (32768+), so it cannot collide with imload's own source ports.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 1 50); do
	p=$(( 20000 + RANDOM % 10000 ))
	if port_free "$p"; then PORT=$p; break; fi
done
[[ -n $PORT ]] || { log "no free port found"; exit 1; }
SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
ADDR=127.0.0.1:$PORT

log "starting imserver on $ADDR with its own PostgreSQL under $WORK/data"
# --rate-limit off: the scenarios send as fast as they can from few users and one address, which is what the
# limits exist to stop; the figures measure the server, not its limits.
# An older binary (IMSERVER_BIN, bench/compare.sh's base) may predate the flag: ask its --help.
RATE_LIMIT=()
if "$WORK/imserver" --help 2>&1 | grep -q -- '-rate-limit'; then RATE_LIMIT=(--rate-limit off); fi
"$WORK/imserver" --data-dir "$WORK/data" --addr "$ADDR" --secret "$SECRET" "${RATE_LIMIT[@]}" --log-level warn >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

ready() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS --max-time 2 "http://$ADDR/readyz" >/dev/null 2>&1
	else
		exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
		printf 'GET /readyz HTTP/1.0\r\nHost: %s\r\n\r\n' "$ADDR" >&3
		local status
		read -r -t 2 _ status _ <&3 || status=
		exec 3<&- 3>&-
		[[ $status == 200 ]]
	fi
}
for i in $(seq 1 120); do
	if ready; then break; fi
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then log "imserver exited:"; tail -30 "$WORK/server.log" >&2; exit 1; fi
	if (( i == 120 )); then log "imserver not ready after 60 s"; tail -30 "$WORK/server.log" >&2; exit 1; fi
	sleep 0.5
done
log "imserver ready (pid $SERVER_PID); load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"

# idle first: the server's memory is measured while it is still fresh.
D=${DURATION}s
SCENARIOS=${BENCH_SCENARIOS:-"idle:conns=$IDLE_CONNS,hold=$IDLE_HOLD
pairs:pairs=$PAIRS,duration=$D
pairs:pairs=$PAIRS,rate=500,duration=$D
pairs:pairs=$PAIRS,rate=2000,duration=$D
hot:senders=$SENDERS,duration=$D
hot:senders=$SENDERS,hot-via=rest,duration=$D
fanout:members=$MEMBERS,duration=$D
rest:duration=$(( DURATION / 2 + 1 ))s"}

rc=0
# shellcheck disable=SC2086
"$WORK/imload" --target "$ADDR" --secret "$SECRET" --server-pid "$SERVER_PID" --json "$OUT/imload.json" \
	$SCENARIOS | tee "$OUT/imload.txt" || rc=$?

if [[ ${BENCH_CHARTS:-1} != 0 && -s $OUT/imload.json ]]; then
	log "charts (bench/chart) next to the table"
	$GO run ./bench/chart -in "$OUT/imload.json" -out "$OUT" >&2 || log "charts failed (the figures are in imload.json)"
fi

if [[ ${BENCH_GO:-1} != 0 ]]; then
	# The Go benchmarks of the write path use the server's durable PostgreSQL (a database of their own,
	# dropped afterwards), so that every commit includes its WAL flush as in production.
	PGDIR=$WORK/data/postgres
	if [[ -r $PGDIR/postmaster.opts && -r $PGDIR/imserver-password ]]; then
		pgport=$(grep -o 'port=[0-9]*' "$PGDIR/postmaster.opts" | head -1 | cut -d= -f2)
		export IMSERVER_TEST_DATABASE_URL="postgres://postgres:$(cat "$PGDIR/imserver-password")@127.0.0.1:$pgport/postgres?sslmode=disable"
		log "Go benchmarks against the server's durable PostgreSQL (port $pgport)"
	else
		log "Go benchmarks against pgtest's private non-durable PostgreSQL"
	fi
	{
		$GO test -run '^$' -bench . -benchtime "$GO_TIME" -timeout 30m ./server/internal/chat/ &&
		$GO test -run '^$' -bench 'BenchmarkHub' -benchtime "$GO_TIME" -timeout 10m ./server/internal/gateway/ &&
		$GO test -run '^$' -bench 'BenchmarkIdleConnMemory' -benchtime 5000x -timeout 10m ./server/internal/gateway/
	} 2>&1 | tee "$OUT/gobench.txt" || rc=$?
fi

log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"
log "results in $OUT (imload.txt, imload.json, *.svg, gobench.txt, server.log)"
exit "$rc"
