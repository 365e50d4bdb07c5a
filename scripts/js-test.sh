#!/usr/bin/env bash
# Runs the JavaScript URL signer's tests (signing/js) against the shared
# vectors in signing/testdata/vectors.json, the same file the Go tests read.
# Needs Node 18+; `make test` installs Debian's nodejs when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE="${NODE:-node}"
if ! command -v "$NODE" >/dev/null 2>&1; then
  echo "js-test: node not found; \`make test\` installs Debian's nodejs (apt-get install nodejs), or install Node 18+ yourself" >&2
  exit 1
fi
major="$("$NODE" -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 18 ]; then
  echo "js-test: node $("$NODE" --version) is too old; the signer needs Node 18+" >&2
  exit 1
fi
echo ">> node --test signing/js/ ($("$NODE" --version))"
# The test files are named explicitly: Node 21+ reads --test arguments as
# globs, Node 18 and 20 as paths; an explicit file list works with both.
"$NODE" --test signing/js/*.test.mjs
