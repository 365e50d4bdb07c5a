#!/usr/bin/env bash
# make vet (and the first step of make test): gofmt, go vet, staticcheck and
# govulncheck on the service module and on the modules of its own beside it
# (bench/, and deploy/kustomize/ whose kustomize dependencies stay out of the
# service's go.mod), and go.mod/go.sum tidy in each. govulncheck scans every
# command's binary against an offline copy of the Go vulnerability database
# (scripts/vulndb.sh) and fails on a vulnerability the binary calls.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
STATICCHECK="${STATICCHECK:-$("$GO" env GOPATH)/bin/staticcheck}"
GOVULNCHECK="${GOVULNCHECK:-$("$GO" env GOPATH)/bin/govulncheck}"

echo ">> gofmt"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"
if [ -n "$unformatted" ]; then echo "not gofmt-ed: $unformatted"; exit 1; fi

vulndb="$(bash scripts/vulndb.sh)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for dir in . bench deploy/kustomize; do
  echo ">> go vet, staticcheck and go mod tidy in $dir"
  (cd "$dir" && "$GO" vet ./... && "$STATICCHECK" ./...)
  # Binary mode, on what ships: the source mode's type checker (x/tools
  # v0.53.0) cannot load Go 1.27's standard library.
  echo ">> govulncheck on the binaries of $dir"
  for main in $(cd "$dir" && "$GO" list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...); do
    (cd "$dir" && "$GO" build -o "$tmp/vulnbin" "$main")
    "$GOVULNCHECK" -mode=binary -db "file://$vulndb" "$tmp/vulnbin"
  done
  cp "$dir/go.mod" "$tmp/go.mod"; cp "$dir/go.sum" "$tmp/go.sum"
  (cd "$dir" && "$GO" mod tidy)
  if ! cmp -s "$dir/go.mod" "$tmp/go.mod" || ! cmp -s "$dir/go.sum" "$tmp/go.sum"; then
    cp "$tmp/go.mod" "$dir/go.mod"; cp "$tmp/go.sum" "$dir/go.sum"
    echo "go mod tidy would change $dir/go.mod or $dir/go.sum: run it and commit"; exit 1
  fi
done
