#!/usr/bin/env bash
# make vet (and the first step of make test): gofmt, go vet and staticcheck
# on the service module and on the modules of its own beside it (bench/, and
# deploy/kustomize/ whose kustomize dependencies stay out of the service's
# go.mod), and go.mod/go.sum tidy in each.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
STATICCHECK="${STATICCHECK:-$("$GO" env GOPATH)/bin/staticcheck}"

echo ">> gofmt"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"
if [ -n "$unformatted" ]; then echo "not gofmt-ed: $unformatted"; exit 1; fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for dir in . bench deploy/kustomize; do
  echo ">> go vet, staticcheck and go mod tidy in $dir"
  (cd "$dir" && "$GO" vet ./... && "$STATICCHECK" ./...)
  cp "$dir/go.mod" "$tmp/go.mod"; cp "$dir/go.sum" "$tmp/go.sum"
  (cd "$dir" && "$GO" mod tidy)
  if ! cmp -s "$dir/go.mod" "$tmp/go.mod" || ! cmp -s "$dir/go.sum" "$tmp/go.sum"; then
    cp "$tmp/go.mod" "$dir/go.mod"; cp "$tmp/go.sum" "$dir/go.sum"
    echo "go mod tidy would change $dir/go.mod or $dir/go.sum: run it and commit"; exit 1
  fi
done
