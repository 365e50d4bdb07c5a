# image-worker — see README.md. Every target installs what it needs.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/image-worker
MINIO_MODULE := github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
STATICCHECK_MODULE := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
FUZZTIME ?= 20s

.PHONY: all deps deps-test build run test vet fuzz bench soak image image-test clean

all: build

# libvips (and pkg-config, which cgo needs to find it) from Debian.
deps:
	@bash scripts/apt-install.sh libvips-dev pkg-config

# Test servers and tools: the MinIO server (built from source, ~2 min the
# first time, then cached), PostgreSQL (the tests run their own throw-away
# cluster), nginx (the CDN edge test runs its own process), kcat (a
# third-party Kafka client), Node.js (the JS signer's tests), iproute2 for
# the loopback-only namespace tests and Prometheus (prometheus and promtool:
# the scrape test runs its own server, promtool checks and tests the alert
# rules). System services are not started.
TEST_PACKAGES := iproute2 kcat postgresql nginx-light prometheus
deps-test: deps
	@bash scripts/apt-install.sh $(TEST_PACKAGES)
	@command -v node >/dev/null 2>&1 || bash scripts/apt-install.sh nodejs
	@[ -x "$(GOBIN_DIR)/minio" ] || { echo ">> go install $(MINIO_MODULE)"; $(GO) install $(MINIO_MODULE); }
	@[ -x "$(GOBIN_DIR)/staticcheck" ] || { echo ">> go install $(STATICCHECK_MODULE)"; $(GO) install $(STATICCHECK_MODULE); }

build: deps
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/image-worker

# Runs the service on the embedded local store with a generated dev key and a sample cover.
run: build
	bash scripts/run-dev.sh

# Every test, against real MinIO, plus the SSRF tests inside a loopback-only network namespace.
test: deps-test
	bash scripts/test.sh

# gofmt, go vet and staticcheck on both modules, and go.mod tidy (scripts/vet.sh).
vet: deps
	@[ -x "$(GOBIN_DIR)/staticcheck" ] || { echo ">> go install $(STATICCHECK_MODULE)"; $(GO) install $(STATICCHECK_MODULE); }
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
	$(GO) test -tags soak -run TestSoak -count=1 -timeout 30m -v ./cmd/image-worker/

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
