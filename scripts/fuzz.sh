#!/usr/bin/env bash
# make fuzz: run every native fuzz test for a bounded time each (default 20s).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-20s}"
for pkg in $(go list ./...); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  for fz in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo ">> $pkg $fz ($t)"
    # A short minimisation: the engine minimises every new interesting
    # input, by default for up to 60s, and with slow targets (libvips in
    # FuzzProbeMatchesLoader) it spent the whole budget minimising, then
    # failed with "context deadline exceeded" when the time ran out.
    go test -run '^$' -fuzz "^${fz}\$" -fuzztime "$t" -fuzzminimizetime "${FUZZMINIMIZETIME:-2s}" "$pkg"
  done
done
