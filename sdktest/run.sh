#!/usr/bin/env bash
# Starts a fresh imserver (embedded PostgreSQL in a throwaway directory) on a free loopback port, runs the
# OpenIM SDK end-to-end test against it, stops it. `make test-sdk` builds the binary and installs the SDK first.
#
#   IMSERVER_BIN=.bin/imserver sdktest/run.sh [extra node --test flags]
set -euo pipefail
here=$(dirname "$0")
bin=$(realpath "${IMSERVER_BIN:-$here/../.bin/imserver}")
cd "$here"
secret=${IMSERVER_SECRET:-openIM123}

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
data=$(mktemp -d "${TMPDIR:-/tmp}/imserver-sdktest.XXXXXX")
log="$data/imserver.log"
# The embedded PostgreSQL runs as an unprivileged user when imserver runs as root: let it into the directory.
chmod 755 "$data"

"$bin" --addr "127.0.0.1:$port" --data-dir "$data/pg" --secret "$secret" --log-level warn >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# Ready when /readyz answers 200 (the embedded PostgreSQL takes a few seconds); give up after 120 s.
ready=
for _ in $(seq 500); do
  if ! kill -0 "$pid" 2>/dev/null; then echo "imserver exited during start-up:"; cat "$log"; exit 1; fi
  if node -e "fetch('http://127.0.0.1:$port/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then ready=1; break; fi
  sleep 0.2
done
if [ -z "$ready" ]; then echo "imserver not ready within about 120 s:"; cat "$log"; exit 1; fi

# Node 20 has a global WebSocket (which the SDK needs) only behind a flag; Node 22 has it by default.
wsflag=
if ! node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)'; then wsflag=--experimental-websocket; fi

set +e
IMSERVER_API_ADDR="http://127.0.0.1:$port/api/v3" IMSERVER_WS_ADDR="ws://127.0.0.1:$port/msg_gateway" IMSERVER_SECRET="$secret" \
  node $wsflag --no-warnings=ExperimentalWarning --test --test-force-exit --test-timeout=120000 --test-reporter=spec "$@" sdk.test.mjs
rc=$?
set -e
if [ "$rc" != 0 ]; then echo "--- imserver log (warnings and errors)"; tail -n 50 "$log"; fi
exit "$rc"
