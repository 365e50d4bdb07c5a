#!/usr/bin/env bash
# Runs the JavaScript signer package's tests (signing/js): both builds (web.mjs
# on Web Crypto, node.mjs with sync signing) against the shared vectors in
# signing/testdata/vectors.json, the same file the Go and Python tests read;
# the srcset/<picture> helpers and fetchCoverMeta; and `npm pack --dry-run`
# (offline), which must list exactly the intended files.
# Needs Node 18+ and npm; `make test` installs Debian's nodejs and npm when
# they are missing.
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
if ! command -v npm >/dev/null 2>&1; then
  echo "js-test: npm not found (the package test runs npm pack --dry-run); \`make test\` installs Debian's npm (apt-get install npm)" >&2
  exit 1
fi
# npm must not look for a newer npm on the registry: tests run offline.
export npm_config_update_notifier=false
echo ">> node --test signing/js/*.test.mjs ($("$NODE" --version), npm $(npm --version 2>/dev/null))"
# The test files are named explicitly: Node 21+ reads --test arguments as
# globs, Node 18 and 20 as paths; an explicit file list works with both.
"$NODE" --test signing/js/*.test.mjs
