# tortie: `sudo make test` and `sudo make demo` install what they need, then run.
# Each phase prints `make: <phase> ok in N s` (or failed) so a CI log shows where the time went.
SHELL := /bin/bash
export PATH := $(PATH):/usr/sbin:/sbin
NODE ?= node
export NODE

# $(call timed,phase,command): runs the command, then reports the phase and its duration.
timed = t0=$$(date +%s); $(2); rc=$$?; t=$$(( $$(date +%s) - t0 )); \
	if [ $$rc = 0 ]; then echo "make: $(1) ok in $$t s"; else echo "make: $(1) FAILED (exit $$rc) after $$t s" >&2; fi; exit $$rc

ADDON := native/tcpmd5/build/Release/tcpmd5.node

.PHONY: all deps deps-build native build lint test test-unit test-integration demo fuzz bench-bgp bench clean sweep sweep-stale

all: build

deps:
	@$(call timed,deps,scripts/install-deps.sh)

# What compiling and the unit tests need (make, cc, node_modules); no root once those are there.
deps-build:
	@$(call timed,deps-build,scripts/install-deps.sh --build)

# The TCP MD5 / GTSM addon the BGP speaker loads (src/bgp/fsm/md5.ts). Order-only on deps: the
# compiler may come from there, but a phony prerequisite would rebuild it every time.
native: $(ADDON)
$(ADDON): native/tcpmd5/src/tcpmd5.c scripts/build-native.sh | deps-build
	@$(call timed,native,scripts/build-native.sh)

build: deps-build native
	@$(call timed,build,npx tsc -p tsconfig.json)

# `npm run lint` is tsc --noEmit + eslint; the build just type-checked everything (tsc exits
# non-zero on a type error), so only eslint is left to run.
lint: build
	@$(call timed,lint,npx eslint .)

# What a crashed earlier run left behind (labs whose owner process is gone); never a live lab.
sweep-stale: deps build
	@./bin/tortie lab down --stale || echo "make: warning: sweeping stale labs failed (see above); continuing" >&2

# Unit and real-kernel tests.
test: deps build lint sweep-stale
	@$(call timed,tests,$(NODE) scripts/run-tests.mjs all)

test-unit: build
	@$(call timed,unit tests,$(NODE) scripts/run-tests.mjs unit)

test-integration: deps build sweep-stale
	@$(call timed,integration tests,$(NODE) scripts/run-tests.mjs integration)

demo: deps build
	@./bin/tortie lab demo

fuzz: build
	@$(NODE) dist/test/fuzz/bgp-fuzz.js $(FUZZ_ARGS)

bench-bgp: build
	@$(NODE) dist/bench/bgp-ingest.js $(BENCH_ARGS)

bench: build
	@for b in dist/bench/*.js; do $(NODE) $$b || exit 1; done

sweep: deps build
	@./bin/tortie lab down --all

clean:
	rm -rf dist native/tcpmd5/build
