# clauderon: `make build`, `make run`, `make test`. See README.md.
SHELL := /bin/bash
# The go on PATH, else the one Go's installer puts in /usr/local/go.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN := bin/clauderon
export CGO_ENABLED ?= 0

.PHONY: build run test unit vet fmt-check bench bench-compare ensure-docker clean webui ensure-web-test-deps agent-images k8s-up k8s-down

# The binary with the web UI embedded: npm ci (from the lock file, only when
# it changed), esbuild into webui/dist/, then go build -tags webui. A plain
# `go build` also works; its web UI is a page saying to run this.
build: webui
	$(GO) build -tags webui -o $(BIN) ./cmd/clauderon

webui: webui/node_modules/.package-lock.json
	cd webui && npm run --silent build

webui/node_modules/.package-lock.json: webui/package.json webui/package-lock.json
	cd webui && npm ci --no-audit --no-fund

# Debian's chromium, a font and tmux, for the browser and TUI tests.
ensure-web-test-deps:
	@webui/scripts/ensure-test-deps.sh

# Installs what is missing (the Docker engine), builds, starts the daemon.
run: ensure-docker build
	./$(BIN) daemon

ensure-docker:
	@scripts/ensure-docker.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Every test, the Docker integration tests included. CLAUDERON_REQUIRE_DOCKER
# turns "Docker is not available" into a failure instead of a skip.
test: ensure-docker ensure-web-test-deps webui fmt-check vet fuzz agent-images k8s-up
	CLAUDERON_REQUIRE_DOCKER=1 CLAUDERON_REQUIRE_K8S=1 $(GO) test -count=1 -timeout 30m ./...

# Every fuzz target, FUZZTIME each (12 targets: about two and a half minutes): the
# parsers of what a container sends (request heads, CONNECT authorities,
# proxy tokens, policy decisions), the leak guard (bodies, WebSocket frames),
# host patterns, allow entries, config and the audit writer. A crasher is written to the package's testdata/fuzz/:
# commit it, and it runs as a regression test with every `go test`.
FUZZTIME ?= 10s
FUZZ_PKGS := . ./config ./proxy ./policy ./audit
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh $(FUZZ_PKGS)

# The real agents' images (Claude Code, Codex, Gemini CLI) the e2e tests run:
# debootstrap + npm, no registry pulls. Cached under /var/cache/clauderon; an
# unchanged image is reused in seconds.
agent-images: ensure-docker
	scripts/build-agent-image.sh all

# Micro-benchmarks. The idle-connection memory benchmark opens thousands of
# connections per iteration, so it runs once, on its own.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pki/ ./audit/ ./sqlite/
	$(GO) test -run '^$$' -bench 'Direct|Proxied|LeakGuard' -benchmem ./proxy/
	$(GO) test -run '^$$' -bench IdleConnMemory -benchtime 1x ./proxy/

# The proxy against a direct connection, mitmproxy (Debian's package, installed
# if missing) and goproxy, in one run: BENCHMARKS.md's table and docs/*.png.
# BENCH_ARGS="-rounds 5 -sessions" adds rounds and the session benchmarks.
BENCH_ARGS ?= -rounds 3
bench-compare:
	@command -v mitmdump >/dev/null || apt-get install -y mitmproxy
	$(GO) build -o bin/clauderon-bench ./cmd/clauderon-bench
	./bin/clauderon-bench $(BENCH_ARGS) -md BENCHMARKS.md -charts docs

clean:
	rm -rf bin

# The single-node Kubernetes test cluster (scripts/k8s/cluster.sh): built from
# the Go module k8s.io/kubernetes once (15-20 min cold, cached under
# /var/cache/clauderon/k8s), started in well under a minute, reused while it
# runs. `make test` starts it; stop it with `make k8s-down`.
k8s-up: ensure-docker
	@scripts/k8s/cluster.sh up >/dev/null

k8s-down:
	@scripts/k8s/cluster.sh down
