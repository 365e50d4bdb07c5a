# image-worker — see README.md. Every target installs what it needs.
SHELL := /bin/bash
# The Go toolchain the project builds and tests with (go.mod's go line). A
# machine's own Go (1.26 or newer) fetches it from the Go module proxy on
# first use (76 MB, ~10 s) and runs it; every target and script inherits it.
# Plain go commands outside make need the same: export GOTOOLCHAIN=go1.27.3.
GO_TOOLCHAIN := go1.27.3
export GOTOOLCHAIN := $(GO_TOOLCHAIN)
GO    ?= go
BIN   := bin/image-worker
MINIO_MODULE := github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
STATICCHECK_MODULE := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK_MODULE := golang.org/x/vuln/cmd/govulncheck@v1.10.0
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
# Analysers are built by the toolchain whose code they read, so they live
# in a folder of their own per toolchain (bin/ is not committed).
TOOLS_DIR := $(CURDIR)/bin/tools/$(GO_TOOLCHAIN)
export STATICCHECK := $(TOOLS_DIR)/staticcheck
export GOVULNCHECK := $(TOOLS_DIR)/govulncheck
FUZZTIME ?= 20s

.PHONY: all deps deps-test tools build run test vet fuzz bench soak image image-test clean

all: build

# libvips (and pkg-config, which cgo needs to find it) from Debian.
deps:
	@bash scripts/apt-install.sh libvips-dev pkg-config

# Test servers and tools: the MinIO server (built from source, ~2 min the
# first time, then cached), PostgreSQL (the tests run their own throw-away
# cluster), nginx (the CDN edge test runs its own process), kcat (a
# third-party Kafka client), Node.js and npm (the JS signer's tests and its
# npm pack check), python3 (the Python signer's tests; scripts/vulndb.sh too),
# iproute2 for the loopback-only namespace tests, Prometheus (prometheus
# and promtool: the scrape test runs its own server, promtool checks and tests
# the alert rules) and Chromium (~100 MB: systemtest/browser_test.go opens
# the demo page of make run in headless Chromium, on loopback only). System
# services are not started.
TEST_PACKAGES := iproute2 kcat postgresql nginx-light prometheus python3 chromium
deps-test: deps
	@bash scripts/apt-install.sh $(TEST_PACKAGES)
	@command -v node >/dev/null 2>&1 || bash scripts/apt-install.sh nodejs
	@command -v npm >/dev/null 2>&1 || bash scripts/apt-install.sh npm
	@[ -x "$(GOBIN_DIR)/minio" ] || { echo ">> go install $(MINIO_MODULE)"; $(GO) install $(MINIO_MODULE); }
	@$(MAKE) --no-print-directory tools

# staticcheck and govulncheck, built by the project's toolchain.
tools:
	@[ -x "$(STATICCHECK)" ] || { echo ">> go install $(STATICCHECK_MODULE)"; GOBIN=$(TOOLS_DIR) $(GO) install $(STATICCHECK_MODULE); }
	@[ -x "$(GOVULNCHECK)" ] || { echo ">> go install $(GOVULNCHECK_MODULE)"; GOBIN=$(TOOLS_DIR) $(GO) install $(GOVULNCHECK_MODULE); }

build: deps
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/image-worker

# Runs the service on the embedded local store with a generated dev key and
# sample covers; with Node.js installed, also the demo page on 127.0.0.1:8001.
run: build
	bash scripts/run-dev.sh

# Every test, against real MinIO, plus the SSRF tests inside a loopback-only network namespace.
test: deps-test
	bash scripts/test.sh

# gofmt, go vet, staticcheck and govulncheck on both modules, and go.mod
# tidy (scripts/vet.sh).
vet: deps tools
	bash scripts/vet.sh

fuzz: deps
	bash scripts/fuzz.sh $(FUZZTIME)

# The performance suite (bench/README.md): Go benchmarks of the hot paths,
# then the load driver against the real binary and MinIO, each scenario
# interleaved with its own baseline. Writes bench/results/latest.{md,json,png}.
bench: build deps-test
	mkdir -p bench/results
	set -o pipefail; $(GO) test -run '^$$' -bench 'Verify|ParseCover|CoverHit|BareHandler|VariantsHit|ManifestsCurrent|VariantKey|Render$$|WorkerOverhead|RenderCPU|Ladder' -benchmem ./signing/ ./proxy/ ./cache/ ./transform/ | tee bench/results/gobench.txt
	cd bench && $(GO) build -o ../bin/loadbench ./cmd/loadbench
	bin/loadbench -bin $(BIN) -out bench/results -gobench bench/results/gobench.txt

# A bounded soak (SOAK_DURATION, default 3m) of mixed hits, misses and hostile
# input against the real binary: RSS, goroutines and libvips memory must stay
# flat. Not part of make test.
soak: deps-test
	$(GO) test -tags soak -run TestSoak -count=1 -timeout 30m -v ./systemtest/

# Builds the image with podman and checks it (scripts/image-build.sh): size
# and package list (no ImageMagick, poppler, librsvg, OpenSlide, matio or
# cfitsio in it), every library resolved, and in a chroot of the image, on
# loopback: /health, covers rendered from every accepted format, and
# deploy/smoke.sh alone and behind the nginx edge. From nothing (base images
# by debootstrap, libvips compiled from Debian's source) 6.3-14 minutes on 2
# shared cores; 7-30 seconds again (podman's layer cache).
# image: tag localhost/image-worker:slim. image-test: the same under
# localhost/image-worker:test; make test runs it (scripts/test.sh).
image:
	bash scripts/image-build.sh

image-test:
	bash scripts/image-build.sh test

clean:
	rm -rf bin .tmp
