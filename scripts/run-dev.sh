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
"$BIN" import --book sample-1 testdata/photo-1600x2400-baseline.jpg
port="${LISTEN_ADDR##*:}"
host="${LISTEN_ADDR%:*}"; [ -z "$host" ] || [ "$host" = "0.0.0.0" ] && host=127.0.0.1
echo
echo ">> sample cover (320 px WebP):  http://$host:$port$("$BIN" sign /covers/sample-1/medium.webp)"
echo ">> sample cover (640 px AVIF):  http://$host:$port$("$BIN" sign /covers/sample-1/640.avif)"
echo ">> placeholder (no such book):  http://$host:$port$("$BIN" sign /covers/no-such-book/320x480.webp)"
echo ">> sign more with: IMAGE_SIGNING_KEYS_FILE=$IMAGE_SIGNING_KEYS_FILE $BIN sign /covers/BOOK/SIZE.FORMAT"
echo
exec "$BIN" serve
