# hashforge — build, run and test the `miner` node.
GO       ?= go
BIN      := bin/miner
FUZZTIME ?= 60s
# Flags for `make run`, e.g. make run ARGS="--network regtest".
ARGS     ?=
# The version the node reports (API, miner_info): the commit, as git describes it.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
# Where `make monitor`'s Prometheus serves its UI and API.
MONITOR_ADDR ?= 127.0.0.1:9090

.PHONY: all build run test bench sim-bench sim-sweep fuzz deps kernels asm monitor clean

all: build

# A node needs nothing but Go: without a C compiler cgo is off, and the GPU
# libraries are loaded at run time.
build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/miner

# Mines on the default network (devnet) with every CPU core; Ctrl-C stops it.
run: build
	./$(BIN) -m $(ARGS)

# Screenshots of the web page test are kept in ./artifacts. deps installed
# PoCL, Prometheus and Chromium, so tests that need them fail rather than
# skip when they are missing (HASHFORGE_TEST_REQUIRE, internal/testenv).
# Packages run one at a time (-p 1): the timing checks (stale work within
# 10 ms, shutdown within 2 s) measure the miner, not PoCL's threads compiling
# and hashing in another package's tests on the same two cores.
# The purego run tests the portable path alone, as arm64 runs it.
test: deps
	scripts/check-tracked
	scripts/check-ptx
	scripts/check-asm
	$(GO) vet ./...
	HASHFORGE_ARTIFACTS=$(CURDIR)/artifacts HASHFORGE_TEST_REQUIRE=opencl,prometheus,chromium \
		$(GO) test -race -p 1 -timeout 12m ./...
	$(GO) test -tags purego ./hasher/cpu/...

# Regenerates the CUDA kernel's PTX from kernels/sha256d.cu (clang-19, no
# CUDA toolkit); `make test` fails while the committed PTX is stale.
kernels:
	scripts/ptx kernels/sha256d.ptx sm_50
	scripts/ptx kernels/sha256d_sm80.ptx sm_80

# Regenerates the CPU backend's assembly and portable path from
# hasher/cpu/_asm (avo); `make test` fails while the committed ones are stale.
asm:
	scripts/asm

# Hash throughput: every backend present (each CPU path beside the standard
# library's SHA-256 with the midstate kept, OpenCL, CUDA), mempool admission
# and templates, the hashrate kept while /metrics is scraped every second,
# a sync of 20,000 blocks between two servers on loopback, `miner bench` on
# each CPU path and on two threads, then a mining node that serves a peer
# and its API against `miner bench`. bench/compare-cpu sets
# the reference miners beside the CPU paths (built by hand; see RESULTS.md).
bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 3s ./hasher/...
	$(GO) test -run '^$$' -bench . -benchtime 3s -cpu 1 ./mempool/
	$(GO) test -run '^$$' -bench Scrape -benchtime 10s -count 3 ./api/
	$(GO) test -run '^$$' -bench BenchmarkSync -benchtime 1x -count 5 ./p2p/
	./$(BIN) bench --cpu-impl all -t 1 --duration 10s
	./$(BIN) bench -t 2 --duration 10s
	scripts/bench-node 2 30

# The simulator at scale: 1,000 nodes of 8 peers each (each dials 4),
# SIM_BLOCKS blocks of ten transfers, one every 10 s; wall time and peak
# memory from GNU time (bench/RESULTS.md has what it took). SIM_ARGS adds
# flags, e.g. faults: SIM_ARGS='--partition 20m-30m --crash 40m-50m:10%'.
SIM_BLOCKS ?= 1000
SIM_ARGS   ?=
sim-bench: build
	/usr/bin/time -v ./$(BIN) sim -n 1000 --peers 4 --blocks $(SIM_BLOCKS) --interval 10s --tx-interval 1s \
		$(SIM_ARGS) --out sim-out 2>&1 | \
		grep -vE '^\s+(Average|Exit|File|Major|Minor|Page|Signals|Socket|Swaps|Voluntary|Involuntary|Percent|System|User)'

# The stale rate against 1 - e^(-tau/T) from 10 s to 600 s blocks, on a slow
# fixed propagation model where stale blocks are common enough to count
# (bench/RESULTS.md); a few minutes.
sim-sweep: build
	./$(BIN) sim -n 20 --peers 4 --latency uniform:1s:200ms --blocks 2000 \
		--sweep 10s,30s,60s,120s,300s,600s --out sim-sweep

# Runs every fuzz target for FUZZTIME each.
fuzz: deps
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# What the tests need beyond Go: a C compiler for the race detector, PoCL
# for the OpenCL tests, clang-19 for the PTX check.
deps:
	@scripts/install-deps

# Prometheus on deploy/prometheus.yml at http://$(MONITOR_ADDR), until Ctrl-C:
# it scrapes a node on 127.0.0.1:8001 and every node of a devnet started from
# here in another terminal (bin/miner devnet -n 3 --mine). Its data goes to
# devnet/prometheus. deploy/README.md tells how to add the Grafana dashboard.
monitor:
	MONITOR_ADDR=$(MONITOR_ADDR) scripts/monitor

clean:
	rm -rf bin
