# hashforge — build, run and test the `miner` node.
GO       ?= go
BIN      := bin/miner
FUZZTIME ?= 60s
# Flags for `make run`, e.g. make run ARGS="--network regtest".
ARGS     ?=

.PHONY: all build run test bench fuzz deps clean

all: build

build: deps
	$(GO) build -trimpath -o $(BIN) ./cmd/miner

# Mines on the default network (devnet) with every CPU core; Ctrl-C stops it.
run: build
	./$(BIN) -m $(ARGS)

test: deps
	$(GO) vet ./...
	$(GO) test -race -timeout 12m ./...

# Hash throughput: the CPU backend beside a plain crypto/sha256 double hash,
# then the user-facing `miner bench` on one and two threads.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3s ./hasher/...
	./$(BIN) bench -t 1 --duration 10s
	./$(BIN) bench -t 2 --duration 10s

# Runs every fuzz target for FUZZTIME each.
fuzz: deps
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# What the build needs beyond Go itself: a C compiler for the race detector.
deps:
	@scripts/install-deps

clean:
	rm -rf bin
