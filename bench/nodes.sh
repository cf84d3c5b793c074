#!/usr/bin/env bash
# bench/nodes.sh — `make bench-nodes`: what several imserver nodes cost per delivered message, on each
# node-to-node bus side by side in one run.
#
# For each bus (BENCH_BUSES, default "notify nats") and each node count 1..BENCH_NODES (default 3), it runs
# N imserver processes on one shared durable PostgreSQL (bench/pg), started one more at a time, and drives
# them with imload --nodes: connection i opens on node i mod N, so every pair's sender and receiver sit on
# different nodes (N > 1) and a group's members spread evenly. imload reads each node's CPU from /proc
# (--node-pids) and the shared processes' (PostgreSQL, nats-server) with --shared-pids.
#
#   notify  today's LISTEN/NOTIFY wake-ups: the server built at BENCH_NOTIFY_REF (default aed05f2, the last
#           commit before NATS), no bus flag
#   nats    the working tree's server with --nats-url to one nats-server (github.com/nats-io/nats-server/v2,
#           built from the module at the version go.mod pins, else v2.15.3); skipped when the working tree's
#           imserver has no --nats-url
#
# Scenarios (BENCH_SCENARIOS overrides them for every N): pairs at a fixed total rate and fanout to a
# 999-member group at a fixed message rate, so every N does the same work and CPU per delivered message
# compares; at the largest N also the largest fan-out, saturated (fanout of 1000 members, imload's maximum),
# and the same traffic on N-1 nodes while the last one holds none of it (its CPU: what a bystander pays).
#
# Knobs: BENCH_DURATION (seconds per scenario, default 5), BENCH_PAIRS_RATE (default 1500 msg/s, 60 pairs),
# BENCH_FANOUT_RATE (default 40 msg/s into 999 members), BENCH_OUT (results dir), NATS_SERVER_BIN,
# IMSERVER_NOTIFY_BIN (skip building BENCH_NOTIFY_REF). Everything listens on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
NODES=${BENCH_NODES:-3}
BUSES=${BENCH_BUSES:-notify nats}
NOTIFY_REF=${BENCH_NOTIFY_REF:-aed05f2}
DURATION=${BENCH_DURATION:-5}
PAIRS_RATE=${BENCH_PAIRS_RATE:-1500}
FANOUT_RATE=${BENCH_FANOUT_RATE:-40}
NATS_VERSION=v2.15.3

log() { printf 'bench-nodes: %s\n' "$*" >&2; }
[[ $NODES =~ ^[1-9]$ ]] || { log "BENCH_NODES=$NODES: want 1..9"; exit 2; }

hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then hard=1048576; fi
ulimit -n "$hard" 2>/dev/null || true

WORK=$(mktemp -d /tmp/imbench-nodes.XXXXXX)
OUT=${BENCH_OUT:-$(mktemp -d /tmp/imbench-nodes-results.XXXXXX)}
mkdir -p "$OUT" "$WORK/bin"
PIDS=()

stop_pid() {
	local p=$1
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
stop_all() {
	local i
	for (( i = ${#PIDS[@]} - 1; i >= 0; i-- )); do stop_pid "${PIDS[i]}"; done
	PIDS=()
}
cleanup() {
	local rc=$?
	stop_all
	git worktree remove --force "$WORK/src" >/dev/null 2>&1 || true
	git worktree prune >/dev/null 2>&1 || true
	cp "$WORK"/*.log "$OUT/" 2>/dev/null || true
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building imserver (working tree), imload, bench/pg"
$GO build -o "$WORK/bin/imserver-nats" ./server/cmd/imserver
$GO build -o "$WORK/bin/imload" ./load/cmd/imload
$GO build -o "$WORK/bin/pg" ./bench/pg
$GO build -o "$WORK/bin/nodestable" ./bench/nodestable

for bus in $BUSES; do
	case $bus in
	notify)
		if [[ -n ${IMSERVER_NOTIFY_BIN:-} ]]; then cp "$IMSERVER_NOTIFY_BIN" "$WORK/bin/imserver-notify"; else
			rev=$(git rev-parse --verify --quiet "$NOTIFY_REF^{commit}") || { log "BENCH_NOTIFY_REF=$NOTIFY_REF is not in this clone"; exit 2; }
			log "building the LISTEN/NOTIFY server at $NOTIFY_REF"
			git worktree add --detach --quiet "$WORK/src" "$rev"
			(cd "$WORK/src" && $GO build -o "$WORK/bin/imserver-notify" ./server/cmd/imserver)
		fi ;;
	nats)
		if ! "$WORK/bin/imserver-nats" --help 2>&1 | grep -q -- '-nats-url'; then
			log "the working tree's imserver has no --nats-url: the nats side is skipped"
			BUSES=${BUSES//nats/}
			continue
		fi
		if [[ -n ${NATS_SERVER_BIN:-} ]]; then cp "$NATS_SERVER_BIN" "$WORK/bin/nats-server"
		elif $GO list -m github.com/nats-io/nats-server/v2 >/dev/null 2>&1; then
			log "building nats-server $($GO list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2) (go.mod)"
			$GO build -o "$WORK/bin/nats-server" github.com/nats-io/nats-server/v2
		else
			log "building nats-server $NATS_VERSION"
			GOBIN=$WORK/bin $GO install "github.com/nats-io/nats-server/v2@$NATS_VERSION"
		fi ;;
	*) log "unknown bus $bus (want notify or nats)"; exit 2 ;;
	esac
done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$(( 20000 + RANDOM % 10000 ))
		if port_free "$p"; then echo "$p"; return; fi
	done
	log "no free port"; return 1
}
ready() { # host:port (quiet while nothing listens)
	exec 3<>"/dev/tcp/${1%:*}/${1#*:}" || return 1
	printf 'GET /readyz HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
	local status
	read -r -t 2 _ status _ <&3 || status=
	exec 3<&- 3>&-
	[[ $status == 200 ]]
} 2>/dev/null
SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

D=${DURATION}s
rc=0
for bus in $BUSES; do
	log "== $bus: PostgreSQL"
	"$WORK/bin/pg" -dir "$WORK/pg-$bus" 2>"$WORK/pg-$bus.log" &
	PIDS+=($!)
	for i in $(seq 1 240); do [[ -s $WORK/pg-$bus/pid ]] && break; sleep 0.25
		kill -0 "${PIDS[-1]}" 2>/dev/null || { log "PostgreSQL did not start:"; tail "$WORK/pg-$bus.log" >&2; exit 1; }; done
	DBURL=$(cat "$WORK/pg-$bus/url") SHARED=$(cat "$WORK/pg-$bus/pid")
	BUSARGS=()
	if [[ $bus == nats ]]; then
		np=$(free_port)
		"$WORK/bin/nats-server" -a 127.0.0.1 -p "$np" >"$WORK/nats.log" 2>&1 &
		PIDS+=($!) SHARED=$SHARED,$!
		BUSARGS=(--nats-url "nats://127.0.0.1:$np")
	fi
	addrs=() npids=()
	for n in $(seq 1 "$NODES"); do
		port=$(free_port)
		addr=127.0.0.1:$port
		extra=("${BUSARGS[@]}")
		if [[ $bus == nats ]]; then extra+=(--node-name "node$n"); fi
		"$WORK/bin/imserver-$bus" --addr "$addr" --database-url "$DBURL" --secret "$SECRET" --rate-limit off \
			--log-level warn "${extra[@]}" >"$WORK/$bus-node$n.log" 2>&1 &
		PIDS+=($!) npids+=($!) addrs+=("$addr")
		for i in $(seq 1 120); do
			ready "$addr" && break
			kill -0 "${npids[-1]}" 2>/dev/null || { log "node $n exited:"; tail -20 "$WORK/$bus-node$n.log" >&2; exit 1; }
			(( i < 120 )) || { log "node $n not ready after 60 s"; exit 1; }
			sleep 0.5
		done
		scen="pairs:pairs=60,rate=$PAIRS_RATE,duration=$D fanout:members=999,rate=$FANOUT_RATE,duration=$D"
		if (( n == NODES )); then scen="$scen fanout:members=1000,duration=$D"; fi
		scen=${BENCH_SCENARIOS:-$scen}
		join() { local IFS=,; echo "$*"; }
		log "== $bus, $n node(s): $(join "${addrs[@]}"), load average $(cut -d' ' -f1-3 /proc/loadavg)"
		# shellcheck disable=SC2086
		"$WORK/bin/imload" --quiet --target "${addrs[0]}" --secret "$SECRET" --nodes "$(join "${addrs[@]}")" \
			--node-pids "$(join "${npids[@]}")" --shared-pids "$SHARED" --drain 10s \
			--json "$OUT/$bus-$n.json" $scen >"$OUT/$bus-$n.txt" 2>"$WORK/imload-$bus-$n.log" || {
			rc=1; log "imload failed on $bus with $n node(s): $OUT/$bus-$n.txt"; }
		if (( n == NODES && n > 1 )) && [[ -z ${BENCH_SCENARIOS:-} ]]; then
			# The same traffic on all nodes but the last, which holds none of it: what a bystander pays.
			log "== $bus, $((n - 1)) node(s) with traffic + 1 idle"
			"$WORK/bin/imload" --quiet --target "${addrs[0]}" --secret "$SECRET" --nodes "$(join "${addrs[@]:0:n-1}")" \
				--node-pids "$(join "${npids[@]}")" --shared-pids "$SHARED" --drain 10s --json "$OUT/$bus-$((n - 1))-idle.json" \
				"pairs:pairs=60,rate=$PAIRS_RATE,duration=$D" "fanout:members=999,rate=$FANOUT_RATE,duration=$D" \
				>"$OUT/$bus-$((n - 1))-idle.txt" 2>"$WORK/imload-$bus-idle.log" || {
				rc=1; log "imload failed on $bus with an idle node: $OUT/$bus-$((n - 1))-idle.txt"; }
		fi
	done
	stop_all
done

"$WORK/bin/nodestable" "$OUT"/*.json | tee "$OUT/table.md"
log "results in $OUT (table.md, <bus>-<nodes>.{json,txt}, logs)"
exit "$rc"
