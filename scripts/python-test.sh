#!/usr/bin/env bash
# Runs the Python signer's tests (signing/python, unittest) against the shared
# vectors in signing/testdata/vectors.json, the same file the Go and
# JavaScript tests read. Standard library only; needs Python 3.8+ (`make test`
# installs Debian's python3, 3.11 on Debian 12). Fails, never skips, when
# python3 is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
fail() { echo "python-test: $*" >&2; exit 1; }
command -v "$PYTHON" >/dev/null 2>&1 || fail "$PYTHON not found; \`make test\` installs Debian's python3 (apt-get install python3)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 8))' || fail "$("$PYTHON" --version 2>&1) is too old; the signer needs Python 3.8+"
echo ">> $PYTHON -m unittest test_cover_signer (signing/python, $("$PYTHON" --version 2>&1))"
# The module is named, not discovered: a missing or unimportable test file is
# an error instead of "Ran 0 tests". No __pycache__ is left in the tree.
cd signing/python
PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m unittest test_cover_signer
