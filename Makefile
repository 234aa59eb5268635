# gslbd — make test installs what the tests need, then runs every check.
SHELL := /bin/bash
GO ?= go
# Debian packages the tests drive for real: dig, kdig (DNS cookie tests),
# Unbound, PostgreSQL, Chromium (dashboard browser test), dnsperf (bench/)
# util-linux (prlimit, for the descriptor-exhaustion tests) and iproute2
# (network namespaces for the write-name partition test).
APT_PKGS := bind9-dnsutils knot-dnsutils unbound postgresql chromium dnsperf ca-certificates util-linux iproute2
# Only the benchmarks need these: gdnsd for bench/compare.sh.
BENCH_APT_PKGS := gdnsd dnsperf
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build test clone-test deps bench-deps lint vet fmt race run bench compare fuzz docker

all: build

build:
	$(GO) build -o bin/gslbd ./cmd/gslbd

run:
	$(GO) run ./cmd/gslbd -dev

## deps: install missing Debian packages and Go tools (idempotent).
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@[ -x $(STATICCHECK) ] || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest

## bench-deps: install the benchmarks' Debian packages (gdnsd, dnsperf).
bench-deps:
	@missing=""; for p in $(BENCH_APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: deps fmt vet
	$(STATICCHECK) ./...

## test: what CI runs — install, lint, then every test with the race detector.
test: lint
	$(GO) test -race -timeout 25m ./...

## clone-test: the committed tree must test green with nothing beside it:
## clone HEAD into a fresh temporary directory and run every test there
## (without -race, which `test` already covers).
clone-test:
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	git clone -q --no-local "$$(git rev-parse --show-toplevel)" "$$dir/gslbd" && \
	cd "$$dir/gslbd" && echo "testing a plain clone in $$dir/gslbd" && \
	$(GO) test -timeout 25m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./gslb/ ./dns/ ./geo/

## compare: gslbd against gdnsd with dnsperf (bench/compare.sh).
compare: bench-deps
	bench/compare.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzHandler -fuzztime 60s ./dns/
	$(GO) test -run '^$$' -fuzz FuzzFastPath -fuzztime 60s ./dns/

docker:
	docker build -t gslbd .
