#!/usr/bin/env bash
# Runs the NetNS tests (non-loopback fetch URLs) inside a fresh network
# namespace that has only a loopback interface, so nothing they dial can
# leave the machine. Needs root (uses sudo when not root).
#
#   scripts/netns-test.sh                 # ./ingest/
#   scripts/netns-test.sh ./ingest/ -v    # packages and go test flags pass through
#
# COVERS_REQUIRE_NETNS=1 turns a skipped NetNS test into a failure, so a run
# that silently skipped cannot pass. GOPROXY=off: no module download is even
# attempted (modules come from the local cache).
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "$#" -eq 0 ]; then
	set -- ./ingest/
fi

# The toolchain's own go binary (GOTOOLCHAIN, exported by the Makefile, may
# name a toolchain the machine's go fetched): inside the namespace nothing
# can be fetched, so it runs with GOTOOLCHAIN=local.
go_bin="$(go env GOROOT)/bin/go"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	sudo_cmd=(sudo)
fi

exec "${sudo_cmd[@]}" unshare --net -- env \
	PATH="$PATH" HOME="${HOME:-/root}" \
	GOPATH="$("$go_bin" env GOPATH)" GOMODCACHE="$("$go_bin" env GOMODCACHE)" \
	GOCACHE="$("$go_bin" env GOCACHE)" GOFLAGS="$("$go_bin" env GOFLAGS)" \
	GOPROXY=off GOTOOLCHAIN=local \
	COVERS_NETNS=1 COVERS_REQUIRE_NETNS=1 \
	bash -c 'ip link set lo up && exec "$0" test -race -count=1 -run NetNS "$@"' "$go_bin" "$@"
