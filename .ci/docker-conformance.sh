#!/usr/bin/env bash
# Runs the conformance suite through its docker backend (testcontainers-go: a PostgreSQL container plus
# the server's image built from ./Dockerfile) on a CI machine that has no Docker engine and reaches no
# container registry. A laptop with a Docker engine needs none of this:
#
#     IMCONFORM_BACKEND=docker go test ./conformance/...
#
# What it does (each step is skipped when its result is already there, and timed):
#   1. installs Debian's docker.io and debootstrap when missing;
#   2. starts dockerd in the background when `docker info` fails (log: $WORK/dockerd.log), and stops the
#      dockerd it started when it exits (IMCONFORM_KEEP_DOCKERD=1 keeps it);
#   3. builds the image impg:local without a registry: a debootstrap minbase of this machine's Debian
#      release from the mirror apt uses here, Debian's postgresql installed in a chroot, and an entrypoint
#      that behaves like the official postgres image for what the suite uses (POSTGRES_USER,
#      POSTGRES_PASSWORD, POSTGRES_DB, PGDATA, extra "postgres -c ..." arguments; scram-sha-256 for
#      network clients), imported with `docker import`. Docker keeps it, so later runs skip this;
#   4. builds a static imserver on the host (CGO_ENABLED=0) into build/docker/imserver, the one path that
#      needs no Go toolchain image: the Dockerfile's build stage then only copies it (build arg PREBUILT),
#      runs on impg:local (any image with /bin/sh would do; BUILD_IMAGE) and the final stage is `scratch`
#      (BASE_IMAGE; the binary is static), so no base image is ever pulled;
#   5. checks `make image` with those build arguments (imserver:latest);
#   6. runs `go test ./conformance/...` with IMCONFORM_BACKEND=docker, where the harness builds
#      imserver:conformance from the same Dockerfile through testcontainers (Ryuk disabled).
#
# Environment: IMCONFORM_CI_WORK (work dir, default /var/tmp/imconform-docker), IMCONFORM_REBUILD_PG=1
# (rebuild impg:local), IMCONFORM_KEEP_DOCKERD=1, IMCONFORM_IMAGES_ONLY=1 (stop after step 3), GOTEST_FLAGS (default "-count=1 -timeout 15m -v").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
WORK=${IMCONFORM_CI_WORK:-/var/tmp/imconform-docker}
mkdir -p "$WORK"
PG_IMAGE=impg:local
T_START=$SECONDS
TIMINGS=()

step() { STEP_NAME=$1; STEP_T0=$SECONDS; echo "== $1"; }
done_step() {
  local d=$((SECONDS - STEP_T0))
  TIMINGS+=("$(printf '%-44s %4ds' "$STEP_NAME" "$d")")
  echo "== $STEP_NAME: ${d}s"
}
print_timings() {
  echo "== timings"
  local l
  for l in "${TIMINGS[@]}"; do echo "   $l"; done
  echo "   $(printf '%-44s %4ds' total $((SECONDS - T_START)))"
}

DOCKERD_PID=
ROOTFS_PROC=
cleanup() {
  local rc=$?
  if [ -n "$ROOTFS_PROC" ] && mountpoint -q "$ROOTFS_PROC"; then umount "$ROOTFS_PROC" || true; fi
  if [ -n "$DOCKERD_PID" ] && [ -z "${IMCONFORM_KEEP_DOCKERD:-}" ]; then
    echo "== stopping the dockerd this script started (pid $DOCKERD_PID)"
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    kill -9 "$DOCKERD_PID" 2>/dev/null || true
  fi
  print_timings
  exit $rc
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
  echo "docker-conformance.sh installs packages, starts dockerd and chroots: run it as root (CI does)." >&2
  echo "With a Docker engine of your own you need none of it: IMCONFORM_BACKEND=docker go test ./conformance/..." >&2
  exit 2
fi

# ---- 1. packages
step "install docker.io and debootstrap"
if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap; }; then
    echo "could not install docker.io/debootstrap: this machine cannot run the docker backend" >&2
    exit 75 # EX_TEMPFAIL: the environment, not the code
  fi
fi
done_step

# ---- 2. the engine
step "start dockerd"
if ! timeout 5 docker info >/dev/null 2>&1; then
  echo "   no engine answers: starting dockerd (log $WORK/dockerd.log)"
  dockerd >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for i in $(seq 1 60); do
    if timeout 5 docker info >/dev/null 2>&1; then break; fi
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null || [ "$i" = 60 ]; then
      echo "dockerd did not come up; the end of its log:"; tail -n 40 "$WORK/dockerd.log"
      exit 75 # EX_TEMPFAIL: the environment, not the code
    fi
    sleep 1
  done
fi
docker version --format '   engine {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}'
done_step

# ---- 3. PostgreSQL image without a registry
# The Debian mirror apt uses on this machine: deb822 .sources files first, then one-line lists.
debian_mirror() {
  local f uri suites
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Print "URIs|Suites" per stanza; take the first stanza whose suites include the release itself.
    while IFS='|' read -r uri suites; do
      for s in $suites; do
        if [ "$s" = "$CODENAME" ]; then echo "${uri%% *}"; return; fi
      done
    done < <(awk -v RS= -F'\n' '{u="";s="";for(i=1;i<=NF;i++){if($i~/^URIs:/){sub(/^URIs:[ \t]*/,"",$i);u=$i} if($i~/^Suites:/){sub(/^Suites:[ \t]*/,"",$i);s=$i}} if(u!="")print u"|"s}' "$f")
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk -v c="$CODENAME" '$1=="deb" {i=2; if ($2 ~ /^\[/) {while ($i !~ /\]$/) i++; i++} if ($(i+1)==c) {print $i; exit}}' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  echo "http://deb.debian.org/debian"
}

write_pg_entrypoint() {
  cat >"$1" <<'ENTRYPOINT'
#!/bin/sh
# impg entrypoint: a small stand-in for the official postgres image's, for test use.
# Honors POSTGRES_USER (default postgres), POSTGRES_PASSWORD, POSTGRES_DB (default: the user),
# POSTGRES_HOST_AUTH_METHOD (default scram-sha-256, trust when no password is set) and PGDATA.
# Arguments: "postgres -c name=value ..." or just "-c name=value ..." are passed to postgres.
set -eu
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ "${1:-}" = postgres ]; then shift; fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  auth=${POSTGRES_HOST_AUTH_METHOD:-}
  if [ -z "$auth" ]; then
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then auth=scram-sha-256; else
      echo "impg: POSTGRES_PASSWORD is empty: network clients are trusted" >&2; auth=trust; fi
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" >"$pwfile"
  "$BIN/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C \
    --auth-local=trust --auth-host="$auth" --no-sync >/dev/null
  rm -f "$pwfile"
  printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\";" | "$BIN/postgres" --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "impg: initialized $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB, host auth $auth)"
fi
exec "$BIN/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
ENTRYPOINT
  chmod 0755 "$1"
}

build_pg_image() {
  . /etc/os-release
  CODENAME=${VERSION_CODENAME:-bookworm}
  local mirror rootfs=$WORK/pg-rootfs
  mirror=$(debian_mirror)
  echo "   debootstrap --variant=minbase $CODENAME from $mirror"
  rm -rf "$rootfs"
  debootstrap --variant=minbase "$CODENAME" "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORK/debootstrap.log"; return 1; }
  echo "   debootstrap: $((SECONDS - STEP_T0))s"
  # Install postgresql in the chroot: no services started, no default cluster kept.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
  ROOTFS_PROC=$rootfs/proc
  mount -t proc proc "$ROOTFS_PROC"
  chroot "$rootfs" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive LC_ALL=C;
    apt-get update -q && apt-get install -y -q --no-install-recommends postgresql' >"$WORK/chroot-apt.log" 2>&1 || {
    tail -n 30 "$WORK/chroot-apt.log"; return 1; }
  umount "$ROOTFS_PROC"; ROOTFS_PROC=
  echo "   postgresql installed: $((SECONDS - STEP_T0))s"
  rm -f "$rootfs/usr/sbin/policy-rc.d"
  rm -rf "$rootfs"/etc/postgresql/*/main "$rootfs"/var/lib/postgresql/*/main
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
  : >"$rootfs/etc/resolv.conf"
  write_pg_entrypoint "$rootfs/usr/local/bin/impg-entrypoint"
  tar -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV PGDATA=/var/lib/postgresql/data' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'EXPOSE 5432' \
    -c 'ENTRYPOINT ["/usr/local/bin/impg-entrypoint"]' \
    -c 'CMD ["postgres"]' \
    - "$PG_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

step "PostgreSQL image $PG_IMAGE"
if [ -n "${IMCONFORM_REBUILD_PG:-}" ] || ! docker image inspect "$PG_IMAGE" >/dev/null 2>&1; then
  build_pg_image
else
  echo "   cached"
fi
docker image inspect --format '   {{.Id}} {{.Size}} bytes' "$PG_IMAGE"
done_step
if [ -n "${IMCONFORM_IMAGES_ONLY:-}" ]; then exit 0; fi # deploy/build.sh needs only the PostgreSQL image

# ---- 4. static server binary for the Dockerfile's PREBUILT path
step "static imserver binary (host Go)"
mkdir -p build/docker
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o build/docker/imserver ./server/cmd/imserver
done_step

BUILD_ARGS=(--build-arg BUILD_IMAGE="$PG_IMAGE" --build-arg BASE_IMAGE=scratch --build-arg PREBUILT=build/docker/imserver)

# ---- 5. make image
step "make image"
make image DOCKER_BUILD_ARGS="${BUILD_ARGS[*]}"
done_step

# ---- 6. the suite
step "go test ./conformance/... (docker backend)"
set +e
# shellcheck disable=SC2086
IMCONFORM_BACKEND=docker \
IMCONFORM_PG_IMAGE="$PG_IMAGE" \
IMCONFORM_BUILD_IMAGE="$PG_IMAGE" \
IMCONFORM_BASE_IMAGE=scratch \
IMCONFORM_PREBUILT=build/docker/imserver \
TESTCONTAINERS_RYUK_DISABLED=true \
TESTCONTAINERS_HOST_OVERRIDE=localhost \
  go test ${GOTEST_FLAGS:--count=1 -timeout 15m -v} ./conformance/... 2>&1 | tee "$WORK/go-test.log"
rc=${PIPESTATUS[0]}
set -e
docker image prune -f >/dev/null || true # dangling layers of earlier builds; tagged images stay cached
done_step
if [ "$rc" != 0 ]; then echo "go test failed (exit $rc; output also in $WORK/go-test.log)"; exit "$rc"; fi
echo "== docker conformance passed"
