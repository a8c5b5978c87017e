# clauderon: `make build`, `make run`, `make test`. See README.md.
SHELL := /bin/bash
# The go on PATH, else the one Go's installer puts in /usr/local/go.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN := bin/clauderon
export CGO_ENABLED ?= 0

.PHONY: build run test unit vet fmt-check bench ensure-docker clean

build:
	$(GO) build -o $(BIN) ./cmd/clauderon

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
test: ensure-docker fmt-check vet
	CLAUDERON_REQUIRE_DOCKER=1 $(GO) test -count=1 -timeout 30m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pki/ ./proxy/

clean:
	rm -rf bin
