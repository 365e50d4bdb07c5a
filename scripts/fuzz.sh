#!/usr/bin/env bash
# make fuzz: run every native fuzz test for a bounded time each (default 20s).
#
# A run that fails with nothing but "context deadline exceeded" at the end
# of its -fuzztime, having written no failing input, is Go's own fuzzing
# coordinator racing its deadline (go.dev/issue/75804, fixed in Go 1.27,
# not in 1.26.x): such a run is tried once more, after the target's corpus
# has been replayed deterministically. Any other failure, or a second race,
# fails the step.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-20s}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# fuzz_once PKG TARGET: one fuzzing run; prints its output, keeps it in $log.
fuzz_once() {
  # A short minimisation: the engine minimises every new interesting
  # input, by default for up to 60s, and with slow targets (libvips in
  # FuzzProbeMatchesLoader) it spent the whole budget minimising, then
  # failed with "context deadline exceeded" when the time ran out.
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$t" -fuzzminimizetime "${FUZZMINIMIZETIME:-2s}" "$1" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

# deadline_race: true when the failed run in $log is the coordinator's race
# and nothing else: the deadline message, no failing input, no panic, no
# test failure message of the target's own.
deadline_race() {
  grep -q '^    context deadline exceeded$' "$log" || return 1
  ! grep -Eq 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

for pkg in $(go list ./...); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  for fz in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo ">> $pkg $fz ($t)"
    if fuzz_once "$pkg" "$fz"; then
      continue
    fi
    if ! deadline_race; then
      echo "!! $fz failed" >&2
      exit 1
    fi
    echo ">> $fz: only the fuzzing coordinator's deadline race (go.dev/issue/75804); replaying its corpus and fuzzing once more"
    go test -count=1 -run "^${fz}\$" "$pkg"
    fuzz_once "$pkg" "$fz"
  done
done
