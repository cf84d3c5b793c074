#!/usr/bin/env bash
# bench/compare.sh (make bench-compare BASE=<git ref>): the regression guard. Builds imserver and imload at
# BASE (a temporary git worktree) and from the working tree, runs the scenarios alternated (base, new, base,
# new, …), each run against a fresh server with its own embedded PostgreSQL (bench/run.sh), then prints per
# scenario and figure the ratio new/base of each alternated pair as a median and its min–max (bench/compare).
# Absolute figures of a shared machine drift; neighbours in time drift together, so their ratio holds.
#
# Knobs (environment):
#   BASE              the git ref to compare against (required): a commit, a branch, HEAD~1, $(git merge-base main HEAD)
#   BENCH_COUNT       alternations (default 3: A B A B A B)
#   BENCH_SCENARIOS   imload scenarios of every run (default below: pairs closed loop and at 500 msg/s, hot, fanout)
#   BENCH_IMLOAD      new (default): both sides are driven by the working tree's imload, so only the server
#                     differs; each: every side by its own imload (when the change is in load/)
#   BENCH_ORDER       abab (default): base then new in every alternation; abba: the order flips every other
#                     alternation (base new, new base, …), so a bias for the first or second run of a pair cancels
#   BENCH_OUT         where the runs' results and the table go (default: a new /tmp/imbench-compare.* dir)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
COUNT=${BENCH_COUNT:-3}
IMLOAD_SIDE=${BENCH_IMLOAD:-new}
ORDER=${BENCH_ORDER:-abab}
SCENARIOS=${BENCH_SCENARIOS:-"pairs:duration=10s
pairs:rate=500,duration=10s
hot:duration=10s
fanout:members=1000,duration=10s"}

log() { printf 'bench-compare: %s\n' "$*" >&2; }

if [[ -z ${BASE:-} ]]; then
	echo "usage: make bench-compare BASE=<git ref> [BENCH_COUNT=3] [BENCH_SCENARIOS='pairs:duration=10s ...']" >&2
	exit 2
fi
rev=$(git rev-parse --verify --quiet "$BASE^{commit}") || { log "BASE=$BASE is not a commit of this repository"; exit 2; }
[[ $COUNT =~ ^[1-9][0-9]?$ ]] || { log "BENCH_COUNT=$COUNT: want 1..99"; exit 2; }
[[ $IMLOAD_SIDE == new || $IMLOAD_SIDE == each ]] || { log "BENCH_IMLOAD=$IMLOAD_SIDE: want new or each"; exit 2; }
[[ $ORDER == abab || $ORDER == abba ]] || { log "BENCH_ORDER=$ORDER: want abab or abba"; exit 2; }

TMP=$(mktemp -d /tmp/imbench-compare-build.XXXXXX)
OUT=${BENCH_OUT:-$(mktemp -d /tmp/imbench-compare.XXXXXX)}
mkdir -p "$OUT" "$TMP/base" "$TMP/new"
cleanup() {
	local rc=$?
	git worktree remove --force "$TMP/src" >/dev/null 2>&1 || true
	git worktree prune >/dev/null 2>&1 || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building base $BASE (${rev:0:12}) and the working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ', with uncommitted changes'))"
git worktree add --detach --quiet "$TMP/src" "$rev"
(cd "$TMP/src" && $GO build -o "$TMP/base/imserver" ./server/cmd/imserver && $GO build -o "$TMP/base/imload" ./load/cmd/imload)
$GO build -o "$TMP/new/imserver" ./server/cmd/imserver
$GO build -o "$TMP/new/imload" ./load/cmd/imload
$GO build -o "$TMP/compare" ./bench/compare
if [[ $IMLOAD_SIDE == new ]]; then cp "$TMP/new/imload" "$TMP/base/imload"; fi

# shellcheck disable=SC2086
log "$COUNT alternations ($ORDER) of: $(echo $SCENARIOS)"
bases=() news=()
for i in $(seq 1 "$COUNT"); do
	sides="base new"
	if [[ $ORDER == abba ]] && (( i % 2 == 0 )); then sides="new base"; fi
	for side in $sides; do
		dir=$OUT/$side-$i
		mkdir -p "$dir"
		t0=$(date +%s)
		rc=0
		BENCH_OUT=$dir IMSERVER_BIN=$TMP/$side/imserver IMLOAD_BIN=$TMP/$side/imload BENCH_GO=0 BENCH_CHARTS=0 \
			BENCH_SCENARIOS=$SCENARIOS bench/run.sh >"$dir/run.log" 2>&1 || rc=$?
		log "run $i $side: $(( $(date +%s) - t0 ))s, exit $rc$([[ $rc != 0 ]] && echo " (a scenario failed or the run broke: $dir/run.log)")"
	done
	# The ratios pair neighbours: an alternation counts only when both of its runs reported.
	if [[ -s $OUT/base-$i/imload.json && -s $OUT/new-$i/imload.json ]]; then
		bases+=("$OUT/base-$i/imload.json") news+=("$OUT/new-$i/imload.json")
	else
		log "alternation $i left out: one of its runs wrote no report"
	fi
done
(( ${#bases[@]} > 0 )) || { log "no alternation where both runs reported; see $OUT/*/run.log"; exit 1; }

join() { local IFS=,; echo "$*"; }
echo
echo "bench-compare: base $BASE (${rev:0:12}) vs working tree, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$TMP/compare" -base "$(join "${bases[@]}")" -new "$(join "${news[@]}")" -benchstat "$OUT" | tee "$OUT/compare.txt"
log "results in $OUT (compare.txt, base.txt and new.txt for benchstat, <side>-<n>/imload.{txt,json}, run.log)"
