# imserver container image: a static binary on a minimal base, running as a non-root user.
#
#   docker build -t imserver:latest .            (or: make image)
#   docker run -p 10002:10002 -e IMSERVER_DATABASE_URL=postgres://... imserver:latest
#
# The image has no PostgreSQL of its own: give it IMSERVER_DATABASE_URL (the embedded default needs the
# PostgreSQL binaries, which are not in the image).
#
# Build arguments (all optional; the defaults suit a machine that reaches the public registries):
#   BUILD_IMAGE  image of the build stage: a Go toolchain, or with PREBUILT any image that has /bin/sh and cp
#   BASE_IMAGE   image of the final stage; "scratch" works too (the binary is static)
#   PREBUILT     path, inside the build context, of an imserver binary already built on the host with
#                CGO_ENABLED=0 (e.g. build/docker/imserver); when set, nothing is compiled in the image.
#                .ci/docker-conformance.sh uses this on machines that reach no container registry.
# The Dockerfile avoids BuildKit-only syntax, so the classic builder (and testcontainers-go) can build it.
ARG BUILD_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
ARG PREBUILT=
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN if [ -z "$PREBUILT" ]; then go mod download; fi
COPY . .
RUN set -e; mkdir -p /out/data /out/tmp; chmod 1777 /out/tmp; \
    if [ -n "$PREBUILT" ]; then \
      echo "using prebuilt binary $PREBUILT"; cp "$PREBUILT" /out/imserver; \
    else \
      go build -ldflags='-s -w' -o /out/imserver ./server/cmd/imserver; \
    fi; \
    chmod 0755 /out/imserver

FROM ${BASE_IMAGE}
COPY --from=build /out/imserver /usr/local/bin/imserver
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/tmp /tmp
ENV IMSERVER_ADDR=:10002 \
    IMSERVER_DATA_DIR=/data
EXPOSE 10002
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/imserver"]
