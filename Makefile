# The two commands a newcomer needs: `make run` and `make test`. Everything else is for contributors.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/.bin
SQLC_VERSION := v1.31.1
SQLC  := $(BIN)/sqlc-$(SQLC_VERSION)
GOTEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: run test vet lint generate check-generated postgres build bench conformance clients image docs tools clean

## run: start imserver on :10002 with an embedded PostgreSQL under ./data (installs PostgreSQL when missing)
run: postgres
	$(GO) run ./server/cmd/imserver $(ARGS)

## test: vet, then every test with the race detector against a real PostgreSQL
test: postgres vet
	$(GO) test $(GOTEST_FLAGS) ./...

vet:
	$(GO) vet ./...

lint: vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

## postgres: make sure initdb/postgres exist (Debian's postgresql package when missing)
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; else \
		echo "PostgreSQL binaries not found: installing Debian's postgresql package"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y postgresql; \
	fi

$(SQLC):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)
	mv $(BIN)/sqlc $(SQLC)

## generate: rebuild gen/ from openapi/, asyncapi/ and queries/ (generators pinned)
generate: $(SQLC)
	$(GO) generate ./gen/...
	cd queries && $(SQLC) generate

## check-generated: fail when gen/ differs from what the specs and queries produce
check-generated: generate
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		echo "gen/ is stale: run 'make generate' and commit the result"; git status --porcelain -- gen; git diff --stat -- gen; exit 1; fi

build:
	$(GO) build -o $(BIN)/ ./server/cmd/... ./conformance/cmd/...

clean:
	rm -rf $(BIN) data

## image: build the server's container image (imserver:latest) from ./Dockerfile; pass build arguments
## with DOCKER_BUILD_ARGS, e.g. DOCKER_BUILD_ARGS="--build-arg BASE_IMAGE=scratch" (see the Dockerfile)
IMAGE ?= imserver:latest
DOCKER_BUILD_ARGS ?=
image:
	docker build $(DOCKER_BUILD_ARGS) -t $(IMAGE) .
