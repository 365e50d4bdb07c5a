#!/usr/bin/env bash
# make test: start real MinIO on loopback, run every test with the servers
# required (integration tests fail instead of skipping), then the tests that
# feed the service non-loopback URLs inside a loopback-only network namespace,
# the Kustomize rendering test (its own module), the image built and checked
# with podman (make image-test: root, with sudo when not root), then every
# native fuzz target for FUZZTIME (default 20s).
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
tmp="$(mktemp -d /tmp/image-worker-test.XXXXXX)"
cleanup() {
  bash scripts/minio-server.sh stop "$tmp" >/dev/null 2>&1 || true
  bash scripts/postgres-server.sh stop "$tmp" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

bash scripts/vet.sh

echo ">> starting MinIO"
bash scripts/minio-server.sh start "$tmp"
# shellcheck disable=SC1091
. "$tmp/minio.env"
echo ">> starting PostgreSQL"
bash scripts/postgres-server.sh start "$tmp"
# shellcheck disable=SC1091
. "$tmp/postgres.env"
export COVERS_REQUIRE_SERVERS=1

echo ">> go test -race ./..."
"$GO" test -race -count=1 -timeout 15m ./...
(cd bench && "$GO" test -race -count=1 ./...)

echo ">> allocation tests without the race detector (it makes sync.Pool drop items)"
"$GO" test -count=1 -run 'AllocatesNothing' ./signing/

echo ">> JS signer tests (node --test) against the shared vectors"
bash scripts/js-test.sh

echo ">> Python signer tests (unittest) against the shared vectors"
bash scripts/python-test.sh

echo ">> SSRF tests in a loopback-only network namespace"
COVERS_REQUIRE_NETNS=1 bash scripts/netns-test.sh ./...

echo ">> the Kustomize base rendered and checked (deploy/kustomize, its own module)"
(cd deploy/kustomize && "$GO" test -count=1 ./...)

echo ">> the image built with podman and checked, deploy/smoke.sh against it (make image-test)"
bash scripts/image-build.sh test

echo ">> fuzzing every target for ${FUZZTIME:-20s}"
bash scripts/fuzz.sh "${FUZZTIME:-20s}"
