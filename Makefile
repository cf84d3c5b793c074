# The two commands a newcomer needs: `make run` and `make test`. Everything else is for contributors.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/.bin
SQLC_VERSION := v1.31.1
SQLC  := $(BIN)/sqlc-$(SQLC_VERSION)
GOTEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: run test test-faults vet lint generate check-generated postgres build bench bench-compare bench-nodes deploy-check conformance clients image docs tools clean web check-web test-web mutants

## run: start imserver on :10002 with an embedded PostgreSQL under ./data (installs PostgreSQL when missing)
run: postgres
	$(GO) run ./server/cmd/imserver $(ARGS)

## test: vet, then every test with the race detector against a real PostgreSQL
test: postgres vet
	$(GO) test $(GOTEST_FLAGS) ./...

## test-faults: the fault-injection suite (server/faulttest, build tag faults): the database killed, stopped,
## stalled and filled, the NATS connections cut, against a running server; about a minute and a half
test-faults: postgres
	$(GO) vet -tags faults ./server/faulttest/
	$(GO) test -tags faults -count=1 -timeout 15m ./server/faulttest/

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

## check-generated: fail when gen/ (or tsclient/gen/, when Node is there) differs from what the specs produce
check-generated: generate
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory clients; fi
	@if [ -n "$$(git status --porcelain -- gen tsclient/gen)" ]; then \
		echo "generated code is stale: run 'make generate' (and 'make clients') and commit the result"; \
		git status --porcelain -- gen tsclient/gen; git diff --stat -- gen tsclient/gen; exit 1; fi

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

## deploy-check: the multi-node deployment of deploy/compose.yaml (3 imserver nodes, a 3-node NATS cluster,
## PostgreSQL, a load balancer; images built locally) started, the conformance suite run against its load
## balancer, and taken down; exit 75 when no Docker engine can be started. See deploy/README.md
deploy-check:
	deploy/check.sh

# ---------------------------------------------------------------- clients and docs (Node.js >= 20 and npm)
NPM        ?= npm
CLIENTS    := tsclient
DOCS_OUT   := build/docs
REDOCLY    := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(CURDIR)/$(CLIENTS)/node_modules/.bin/redocly
# npm ci in tsclient/ when node_modules is missing or older than package-lock.json
define clients_npm_ci
	@command -v node >/dev/null 2>&1 && command -v $(NPM) >/dev/null 2>&1 || { \
		echo "Node.js >= 20 and npm are needed (Debian: apt-get install nodejs npm, or nodesource)"; exit 1; }
	@if [ ! -f $(CLIENTS)/node_modules/.package-lock.json ] || [ $(CLIENTS)/package-lock.json -nt $(CLIENTS)/node_modules/.package-lock.json ]; then \
		echo "npm ci in $(CLIENTS)/"; cd $(CLIENTS) && $(NPM) ci --no-audit --no-fund; fi
endef

## clients: regenerate the TypeScript client's generated code (tsclient/gen: openapi-typescript from openapi/,
## tools/tsgen from asyncapi/) and type-check it with the hand-written part; build the Go client (client/ over
## the oapi-codegen client gen/api, which `make generate` rebuilds). A rerun leaves no diff.
clients:
	$(clients_npm_ci)
	cd $(CLIENTS) && ./node_modules/.bin/openapi-typescript ../openapi/openapi.yaml --output gen/openapi.ts
	$(GO) run ./tools/tsgen -asyncapi asyncapi/asyncapi.yaml -openapi openapi/openapi.yaml -out $(CLIENTS)/gen
	cd $(CLIENTS) && ./node_modules/.bin/tsc --noEmit -p tsconfig.json
	$(GO) build ./gen/api/ ./client/

## docs: render the REST and WebSocket specs to static HTML in build/docs/ (Redocly CLI, offline: the Redoc
## scripts are inlined; tools/tsgen -bundle turns both documents into JSON, the AsyncAPI one self-contained)
docs:
	$(clients_npm_ci)
	$(GO) run ./tools/tsgen -bundle $(DOCS_OUT)/src
	$(REDOCLY) build-docs $(DOCS_OUT)/src/openapi.json --inlineBundle --title "imserver REST API" -o $(DOCS_OUT)/openapi.html
	$(REDOCLY) build-docs $(DOCS_OUT)/src/asyncapi.json --inlineBundle --title "imserver WebSocket gateway" -o $(DOCS_OUT)/asyncapi.html
	@printf '%s\n' '<!doctype html><meta charset="utf-8"><title>imserver API</title>' \
		'<h1>imserver API</h1><ul>' \
		'<li><a href="openapi.html">REST API (/api/v3), from openapi/openapi.yaml</a></li>' \
		'<li><a href="asyncapi.html">WebSocket gateway (/msg_gateway), from asyncapi/asyncapi.yaml</a></li>' \
		'</ul>' > $(DOCS_OUT)/index.html
	@echo "docs: $(DOCS_OUT)/index.html, openapi.html, asyncapi.html"

## mutants: the conformance suite's test of itself: every mutant of conformance/mutants (a realistic server bug)
## put into a copy of the tree, built and run against the suite; prints the kill rate per area and the survivors
## (about 30-60 s a mutant on two cores). MUTANTS=sample runs the first mutant of each area, MUTANTS=<regexp> those
## IDs; MUTANTS_MIN=<percent> fails below that kill rate. See conformance/README.md.
MUTANTS ?= all
MUTANTS_MIN ?=
mutants: postgres
	IMCONFORM_MUTANTS='$(MUTANTS)' IMCONFORM_MUTANTS_MIN='$(MUTANTS_MIN)' $(GO) test -count=1 -v -timeout 180m -run 'TestMutants$$' ./conformance/mutants/ 2>&1 \
		| grep -v '^=== \|^    --- \|harness: \|^--- PASS\|^PASS$$'; exit $${PIPESTATUS[0]}

# ---------------------------------------------------------------- web apps (web/: Vite + Preact over tsclient/)
WEB := web
define web_npm_ci
	$(clients_npm_ci)
	@if [ ! -f $(WEB)/node_modules/.package-lock.json ] || [ $(WEB)/package-lock.json -nt $(WEB)/node_modules/.package-lock.json ]; then \
		echo "npm ci in $(WEB)/"; cd $(WEB) && $(NPM) ci --no-audit --no-fund; fi
endef

## web: rebuild the chat app (/) and the admin console (/admin/) into web/dist, with the specs rendered as HTML
## (make docs, gzipped) in web/docs. Both are committed and embedded (package web): Go builds never need
## Node; rerun this after changing web/src, tsclient/ or the specs.
web: docs
	$(web_npm_ci)
	cd $(WEB) && $(NPM) run build
	mkdir -p $(WEB)/docs
	cp $(DOCS_OUT)/index.html $(WEB)/docs/index.html
	for f in openapi asyncapi; do gzip -9nc $(DOCS_OUT)/$$f.html > $(WEB)/docs/$$f.html.gz; done

## check-web: fail when web/dist or web/docs differ from what `make web` builds
check-web: web
	@if [ -n "$$(git status --porcelain -- $(WEB)/dist $(WEB)/docs)" ]; then \
		echo "web/dist or web/docs is stale: run 'make web' and commit the result"; git status --porcelain -- $(WEB)/dist $(WEB)/docs; exit 1; fi

## test-web: the browser tests of the apps (web/test): Debian's chromium (installed when missing) driven by
## playwright-core against a fresh imserver on a loopback port; screenshots in build/screenshots
CHROMIUM ?= /usr/bin/chromium
test-web: postgres
	$(web_npm_ci)
	@if [ ! -x $(CHROMIUM) ]; then echo "installing Debian's chromium and fonts for CJK and emoji"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium fonts-wqy-microhei fonts-noto-color-emoji; fi
	$(GO) build -o $(BIN)/imserver ./server/cmd/imserver
	cd $(WEB) && IMSERVER_BIN=$(BIN)/imserver CHROMIUM=$(CHROMIUM) SCREENSHOTS=$(CURDIR)/build/screenshots node --test test/browser.test.mjs

## test-sdk: the unmodified OpenIM JavaScript SDK (@openim/client-sdk 0.0.14, installed from npm into
## sdktest/node_modules at test time, never committed: GPL-3.0) against a fresh imserver on a loopback port:
## login and sync, 1:1 and group messages, history, reconnect gap-fill, kick, friend, revoke, mark-as-read
SDKTEST := sdktest
.PHONY: test-sdk
test-sdk: postgres
	@command -v node >/dev/null 2>&1 && command -v $(NPM) >/dev/null 2>&1 || { \
		echo "Node.js >= 20.10 and npm are needed (Debian: apt-get install nodejs npm, or nodesource)"; exit 1; }
	@if [ ! -f $(SDKTEST)/node_modules/.package-lock.json ] || [ $(SDKTEST)/package-lock.json -nt $(SDKTEST)/node_modules/.package-lock.json ]; then \
		echo "npm ci in $(SDKTEST)/"; cd $(SDKTEST) && $(NPM) ci --no-audit --no-fund; fi
	$(GO) build -o $(BIN)/imserver ./server/cmd/imserver
	IMSERVER_BIN=$(BIN)/imserver $(SDKTEST)/run.sh

## bench: a few minutes of load (imload, every scenario) against a fresh imserver with its own PostgreSQL on
## this machine, then the Go benchmarks of the hot paths; see bench/README.md
bench: postgres
	bench/run.sh

## bench-compare: the regression guard: BASE=<git ref> is built beside the working tree and both are run
## alternated (BENCH_COUNT=3 times each, fresh server and PostgreSQL per run); prints per scenario the ratio
## new/base as a median and its min–max. BENCH_SCENARIOS overrides the scenarios; see bench/compare.sh
bench-compare: postgres
	BASE='$(BASE)' bench/compare.sh

## bench-nodes: CPU per delivered message on each node with 1, 2 and 3 imserver nodes on one PostgreSQL,
## LISTEN/NOTIFY (the server at BENCH_NOTIFY_REF) and NATS side by side, pairs and fanout across nodes;
## about 10 minutes on 2 cores. See bench/nodes.sh and bench/README.md
bench-nodes: postgres
	bench/nodes.sh
