# statecar developer targets. `make test` is the README's test command.
GO ?= go
FUZZTIME ?= 10m

.PHONY: run build test testrace lint vet fuzz-seeds bench bench-compare

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

# Go benchmarks of the hot paths (short); see docs/benchmarks.md for the recorded runs.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./kv/... ./server/... ./api/...
