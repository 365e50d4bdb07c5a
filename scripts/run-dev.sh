#!/usr/bin/env bash
# make run: the service on the embedded local store, a dev signing key in
# DATA_DIR, a sample cover imported from testdata/, and a signed sample URL.
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
"$BIN" import --book sample-1 testdata/photo-1600x2400-baseline.jpg
port="${LISTEN_ADDR##*:}"
host="${LISTEN_ADDR%:*}"; [ -z "$host" ] || [ "$host" = "0.0.0.0" ] && host=127.0.0.1
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
exec "$BIN" serve
