# tortie: `sudo make test` and `sudo make demo` install what they need, then run.
SHELL := /bin/bash
export PATH := $(PATH):/usr/sbin:/sbin
NODE ?= node

.PHONY: all deps build lint test test-unit test-integration demo fuzz bench-bgp bench clean sweep

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@npx tsc -p tsconfig.json

lint: build
	@npm run -s lint

# Unit and real-kernel tests. Sweeps what a crashed earlier run left behind first.
test: build lint
	@./bin/tortie lab down --stale >/dev/null 2>&1 || true
	@$(NODE) scripts/run-tests.mjs all

test-unit: build
	@$(NODE) scripts/run-tests.mjs unit

test-integration: build
	@$(NODE) scripts/run-tests.mjs integration

demo: build
	@./bin/tortie lab demo

fuzz: build
	@$(NODE) dist/test/fuzz/bgp-fuzz.js $(FUZZ_ARGS)

bench-bgp: build
	@$(NODE) dist/bench/bgp-ingest.js $(BENCH_ARGS)

bench: build
	@for b in dist/bench/*.js; do $(NODE) $$b || exit 1; done

sweep: build
	@./bin/tortie lab down --all

clean:
	rm -rf dist
