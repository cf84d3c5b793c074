#!/usr/bin/env bash
# deploy/build.sh: the images of deploy/compose.yaml, built on this machine without any registry:
#   imserver:latest  the project's Dockerfile (make image) over a static imserver built on the host
#   imnats:local     nats-server (github.com/nats-io/nats-server/v2, the version go.mod pins, else v2.15.3)
#   imlb:local       deploy/lb, the load balancer
#   impg:local       PostgreSQL from Debian's package (.ci/docker-conformance.sh builds it; only when missing)
# Needs a Docker engine that answers and the Go toolchain. Set IMPG_IMAGE etc. (compose.yaml) to use others.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
GO=${GO:-go}
OUT=build/deploy
NATS_VERSION=v2.15.3
mkdir -p "$OUT/nats" "$OUT/lb"
t0=$SECONDS
log() { printf 'deploy/build: %s (%ds)\n' "$*" $((SECONDS - t0)) >&2; }

if ! docker image inspect impg:local >/dev/null 2>&1; then
	log "impg:local missing: building it with .ci/docker-conformance.sh (images only)"
	IMCONFORM_IMAGES_ONLY=1 IMCONFORM_KEEP_DOCKERD=1 bash .ci/docker-conformance.sh
fi

log "static binaries"
export CGO_ENABLED=0
$GO build -trimpath -ldflags='-s -w' -o build/docker/imserver ./server/cmd/imserver
$GO build -trimpath -ldflags='-s -w' -o "$OUT/lb/app" ./deploy/lb
if $GO list -m github.com/nats-io/nats-server/v2 >/dev/null 2>&1; then
	$GO build -trimpath -ldflags='-s -w' -o "$OUT/nats/app" github.com/nats-io/nats-server/v2
else
	GOBIN=$PWD/$OUT/nats.bin $GO install -trimpath -ldflags='-s -w' "github.com/nats-io/nats-server/v2@$NATS_VERSION"
	mv "$OUT/nats.bin/nats-server" "$OUT/nats/app" && rmdir "$OUT/nats.bin"
fi

log "imserver:latest (make image)"
# quiet unless it fails (the classic builder warns that it is deprecated on every build)
quiet() { "$@" >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; return 1; }; }
quiet make --no-print-directory image DOCKER_BUILD_ARGS="--build-arg BUILD_IMAGE=impg:local --build-arg BASE_IMAGE=scratch --build-arg PREBUILT=build/docker/imserver"
for x in nats lb; do
	log "im$x:local"
	cp deploy/Dockerfile.static "$OUT/$x/Dockerfile"
	quiet docker build -t "im$x:local" "$OUT/$x"
done
log "done"
