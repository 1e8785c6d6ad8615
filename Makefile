# statecar developer targets. `make test` is the README's test command.
GO ?= go
FUZZTIME ?= 10m
CYCLES ?= 200

.PHONY: run build test testrace lint vet fuzz fuzz-seeds crash torture-relaxed bench bench-server bench-compare bench-peers bench-record bench-issue4 bench-issue5 bench-issue8 soak

run:
	$(GO) run ./cmd/statecar

build:
	$(GO) build -o bin/statecar ./cmd/statecar

# Everything CI runs (installs Redis/PostgreSQL/npm packages when missing).
test:
	bash scripts/test.sh

testrace:
	$(GO) test -race -count=1 ./...

lint: vet
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi

vet:
	$(GO) vet ./...

# Every fuzz target for $(FUZZTIME) each (CI runs only their seeds, via go test).
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

fuzz-seeds:
	$(GO) test -count=1 -run 'Fuzz' ./...

# kill -9 crash torture of the real binary (docs/reliability.md).
crash:
	$(GO) run ./cmd/sctorture -cycles $(CYCLES)

torture-relaxed:
	$(GO) run ./cmd/sctorture -cycles $(CYCLES) -durability relaxed

soak:
	$(GO) test -count=1 ./tests/overload -run TestSoak -soak -soaktime 30m -timeout 45m

# Go benchmarks of the hot paths (short); see docs/benchmarks.md for the recorded runs.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./kv/... ./server/... ./api/...

bench-server:
	$(GO) test -run '^$$' -bench 'ServeGet|H1Get' -benchmem -benchtime 1s ./server/

# All Go benchmarks, -count 10, compared with benchstat against bench/baseline.txt (SAVE=1 to replace it).
bench-compare:
	bash bench/compare.sh

# One workload against each peer (statecar, redis via scload and redis-benchmark, $$DAPRD if set).
bench-peers:
	$(GO) run ./bench/cmd/peers -workload get

# Re-run every figure of docs/benchmarks.md (about 10 minutes).
bench-record:
	bash bench/record.sh

# Issue #4's wrk-vs-redis-benchmark comparison through the binary.
bench-issue4:
	bash bench/issue4.sh

# Issue #5: gRPC GetState/SaveState beside HTTP/1.1, one C client (h2load, Debian nghttp2-client) for both.
bench-issue5:
	bash bench/issue5.sh

# Issue #8: statecar on state.redis beside raw Redis and a do-nothing proxy (socat); MIX=save for writes.
bench-issue8:
	bash bench/issue8.sh
