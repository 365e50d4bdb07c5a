#!/usr/bin/env bash
# make run: the service on the embedded local store, a dev signing key in
# DATA_DIR, sample covers imported from testdata/, signed sample URLs, and
# (when Node.js is installed) the demo page: DATA_DIR/demo.html, built with
# the JS package by scripts/demo-page.mjs and served on DEMO_ADDR
# (127.0.0.1:8001), whose origin is put in ALLOW_ORIGINS so the page may read
# meta.json. Without node the demo page is skipped and the service runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/image-worker
export DATA_DIR="${DATA_DIR:-./data}"
export LISTEN_ADDR="${LISTEN_ADDR:-127.0.0.1:8000}"
export KAFKA_BROKERS="${KAFKA_BROKERS-}"   # no Kafka in dev unless asked for
unset S3_ENDPOINT
mkdir -p "$DATA_DIR"
if [ -z "${IMAGE_SIGNING_KEYS:-}" ] && [ -z "${IMAGE_SIGNING_KEYS_FILE:-}" ]; then
  KEYFILE="$DATA_DIR/dev-signing.key"
  if [ ! -s "$KEYFILE" ]; then
    (umask 077; "$BIN" keygen > "$KEYFILE")
    echo ">> generated a DEV signing key in $KEYFILE (do not use it in production)"
  fi
  export IMAGE_SIGNING_KEYS_FILE="$KEYFILE"
fi
# POST /process and /v2/process need a bearer token (PROCESS_TOKENS): a dev
# one, generated once and kept in DATA_DIR like the signing key.
if [ -z "${PROCESS_TOKENS:-}" ] && [ -z "${PROCESS_TOKENS_FILE:-}" ]; then
  TOKENFILE="$DATA_DIR/dev-process.token"
  if [ ! -s "$TOKENFILE" ]; then
    (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$TOKENFILE")
    echo ">> generated a DEV process token in $TOKENFILE (do not use it in production)"
  fi
  export PROCESS_TOKENS_FILE="$TOKENFILE"
fi
DEMO_ADDR="${DEMO_ADDR:-127.0.0.1:8001}"
demo=0
if command -v node >/dev/null 2>&1; then
  demo=1
  # The demo page's origin may read covers and meta.json (CORS); a value of
  # your own (even empty) is kept.
  export ALLOW_ORIGINS="${ALLOW_ORIGINS-http://$DEMO_ADDR}"
fi
# The demo page's grid (systemtest/browser_test.go imports the same files).
"$BIN" import --book sample-1 testdata/photo-1600x2400-baseline.jpg
"$BIN" import --book sample-2 testdata/cover-1200x1800-lossy.webp
"$BIN" import --book sample-3 testdata/cover-800x1200-alpha.png
port="${LISTEN_ADDR##*:}"
host="${LISTEN_ADDR%:*}"; [ -z "$host" ] || [ "$host" = "0.0.0.0" ] && host=127.0.0.1
if [ "$demo" = 1 ]; then
  keyarg=()
  [ -n "${IMAGE_SIGNING_KEYS_FILE:-}" ] && keyarg=(--key-file "$IMAGE_SIGNING_KEYS_FILE")
  node scripts/demo-page.mjs --base "http://$host:$port" "${keyarg[@]}" \
    --books sample-1,sample-2,sample-3 --placeholder no-such-book --out "$DATA_DIR/demo.html"
  node scripts/demo-page.mjs --serve "$DEMO_ADDR" "$DATA_DIR/demo.html" &
  demo_pid=$!
  trap 'kill "$demo_pid" 2>/dev/null || true' EXIT
  case ",$ALLOW_ORIGINS," in
    *",http://$DEMO_ADDR,"*|*",*,"*) ;;
    *) echo "!! ALLOW_ORIGINS=$ALLOW_ORIGINS does not list http://$DEMO_ADDR: the demo page cannot read meta.json" ;;
  esac
else
  echo ">> node not found: skipping the demo page (apt-get install nodejs to get it); the service runs without it"
fi
echo
echo ">> sample cover (320 px WebP):  http://$host:$port$("$BIN" sign /covers/sample-1/medium.webp)"
echo ">> sample cover (640 px AVIF):  http://$host:$port$("$BIN" sign /covers/sample-1/640.avif)"
echo ">> placeholder (no such book):  http://$host:$port$("$BIN" sign /covers/no-such-book/320x480.webp)"
echo ">> sign more with: IMAGE_SIGNING_KEYS_FILE=$IMAGE_SIGNING_KEYS_FILE $BIN sign /covers/BOOK/SIZE.FORMAT"
echo
echo "!! ============================================================================="
echo "!! POST /process and /v2/process need a bearer token (PROCESS_TOKENS):"
if [ -n "${PROCESS_TOKENS_FILE:-}" ]; then
  echo "!!   curl -H \"Authorization: Bearer \$(cat $PROCESS_TOKENS_FILE)\" -H 'Content-Type: application/json' \\"
else
  echo "!!   curl -H \"Authorization: Bearer \$PROCESS_TOKENS\" -H 'Content-Type: application/json' \\"
fi
echo "!!     -d '{\"book_id\":\"B1\",\"image_url\":\"https://...\"}' http://$host:$port/process"
echo "!! Without it: 401 unauthorized; with another token: 403 forbidden."
echo "!! ============================================================================="
echo
if [ "$demo" = 1 ]; then
  echo ">> demo page:                   http://$DEMO_ADDR/  (covers, a box, a placeholder, blurhash from meta.json)"
  echo
  "$BIN" serve   # not exec: the EXIT trap stops the demo page's server
else
  exec "$BIN" serve
fi
