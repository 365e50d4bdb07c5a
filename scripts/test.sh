#!/usr/bin/env bash
# make test: start real MinIO on loopback, run every test with the servers
# required (integration tests fail instead of skipping), then the tests that
# feed the service non-loopback URLs inside a loopback-only network namespace,
# then every native fuzz target for FUZZTIME (default 20s).
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

echo ">> gofmt and go vet"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"
if [ -n "$unformatted" ]; then echo "not gofmt-ed: $unformatted"; exit 1; fi
"$GO" vet ./...
(cd bench && "$GO" vet ./...)

echo ">> go.mod is tidy (the service module and the bench module)"
for dir in . bench; do
  (cd "$dir" && cp go.mod /tmp/go.mod.$$ && cp go.sum /tmp/go.sum.$$ && "$GO" mod tidy &&
    if ! cmp -s go.mod /tmp/go.mod.$$ || ! cmp -s go.sum /tmp/go.sum.$$; then
      cp /tmp/go.mod.$$ go.mod; cp /tmp/go.sum.$$ go.sum; echo "go mod tidy changes $dir/go.mod or go.sum"; exit 1
    fi)
done
rm -f /tmp/go.mod.$$ /tmp/go.sum.$$

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

echo ">> JS signer tests (node --test) against the shared vectors"
bash scripts/js-test.sh

echo ">> SSRF tests in a loopback-only network namespace"
COVERS_REQUIRE_NETNS=1 bash scripts/netns-test.sh ./...

echo ">> fuzzing every target for ${FUZZTIME:-20s}"
bash scripts/fuzz.sh "${FUZZTIME:-20s}"
