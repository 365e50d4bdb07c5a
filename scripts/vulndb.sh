#!/usr/bin/env bash
# Prints the path of an offline Go vulnerability database (the format
# govulncheck's -db file:// reads), building it first when it is missing.
#
# govulncheck normally asks vuln.go.dev; the machines this project is built
# and tested on reach only the Go module proxy, so the database is built from
# the golang.org/x/vulndb module (its data/osv reports, indexed by
# scripts/vulndb-index.py exactly as vulndb's own cmd/indexdb indexes them,
# without compiling that command's dependencies), pinned below. Bump VULNDB_VERSION to take newer reports
# (`go list -m -versions golang.org/x/vulndb` lists none: take the pseudo-version
# of a recent commit, e.g. from `go list -m golang.org/x/vulndb@master`).
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"
out="$PWD/.tmp/vulndb/$VULNDB_VERSION"
if [ -f "$out/index/db.json" ]; then
  echo "$out"
  exit 0
fi
echo ">> building the offline vulnerability database $VULNDB_VERSION" >&2
dir="$("$GO" mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
[ -d "$dir/data/osv" ] || { echo "no data/osv in golang.org/x/vulndb@$VULNDB_VERSION ($dir)" >&2; exit 1; }
rm -rf "$out.partial"
python3 scripts/vulndb-index.py "$dir/data/osv" "$out.partial"
rm -rf "$out"
mv "$out.partial" "$out"
echo "$out"
