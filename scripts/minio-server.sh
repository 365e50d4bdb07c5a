#!/usr/bin/env bash
# minio-server.sh: a throwaway MinIO for integration tests, bound to 127.0.0.1.
#
#   scripts/minio-server.sh start <dir>   start MinIO on free loopback ports with random
#                                         credentials; data in <dir>/data, log in <dir>/minio.log,
#                                         pid in <dir>/minio.pid, env in <dir>/minio.env
#   scripts/minio-server.sh stop <dir>    stop it
#
# After start:  . <dir>/minio.env && COVERS_REQUIRE_SERVERS=1 go test -race ./cache/
set -euo pipefail

MINIO_MODULE="github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
READY_TIMEOUT_SEC=${MINIO_READY_TIMEOUT_SEC:-60}
START_ATTEMPTS=3

die() { echo "minio-server.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop <dir>"; }

# minio_bin prints the MinIO binary path, installing it first if missing.
minio_bin() {
	local bin
	bin="$(go env GOPATH)/bin/minio"
	if [[ ! -x "$bin" ]]; then
		echo "minio-server.sh: installing $MINIO_MODULE (takes a few minutes)" >&2
		go install "$MINIO_MODULE" >&2 || die "go install $MINIO_MODULE failed"
	fi
	echo "$bin"
}

# port_in_use reports whether something accepts connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a random loopback port in 20000-32767 (below Linux's
# ephemeral range, where outgoing connections take their source ports) that
# nothing listens on and that differs from $1 (if given).
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12768))
		[[ "$p" == "${1:-}" ]] && continue
		port_in_use "$p" || { echo "$p"; return 0; }
	done
	die "no free port found in 20000-32767"
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# is_our_minio reports whether pid $1 is alive and is a MinIO server process.
is_our_minio() {
	[[ -n "$1" ]] && kill -0 "$1" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'minio server'
}

ready() { curl --noproxy '*' -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/minio/health/ready" 2>/dev/null; }

# kill_pid stops process $1: TERM, then KILL after 10 s.
kill_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# stop_pid stops $1 only if it is still a MinIO server (pids get reused).
stop_pid() { if is_our_minio "$1"; then kill_pid "$1"; fi; }

cmd_start() {
	local dir=$1 bin pid port console user pass attempt i
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	if [[ -f "$dir/minio.pid" ]] && is_our_minio "$(cat "$dir/minio.pid")" && [[ -f "$dir/minio.env" ]]; then
		port=$(sed -n 's/^export COVERS_TEST_S3_ENDPOINT=127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/minio.env")
		if [[ -n "$port" ]] && ready "$port"; then
			echo "minio-server.sh: already running (pid $(cat "$dir/minio.pid")), env in $dir/minio.env"
			return 0
		fi
		stop_pid "$(cat "$dir/minio.pid")"
	fi
	rm -f "$dir/minio.pid" "$dir/minio.env"
	bin=$(minio_bin)
	user="covers-test-$(random_hex 6)"
	pass="$(random_hex 20)"

	for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
		port=$(free_port)
		console=$(free_port "$port")
		echo "=== start attempt $attempt on 127.0.0.1:$port $(date -u +%FT%TZ)" >>"$dir/minio.log"
		MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$pass" MINIO_BROWSER=off MINIO_UPDATE=off \
			setsid "$bin" server "$dir/data" --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
			>>"$dir/minio.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$dir/minio.pid"
		for ((i = 0; i < READY_TIMEOUT_SEC * 4; i++)); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break # exited, e.g. lost the port to another process: try again
			fi
			if ready "$port"; then
				umask 077
				{
					echo "export COVERS_TEST_S3_ENDPOINT=127.0.0.1:$port"
					echo "export COVERS_TEST_S3_ACCESS_KEY=$user"
					echo "export COVERS_TEST_S3_SECRET_KEY=$pass"
				} >"$dir/minio.env"
				echo "minio-server.sh: MinIO ready on 127.0.0.1:$port (pid $pid), env in $dir/minio.env"
				return 0
			fi
			sleep 0.25
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill_pid "$pid" # the process we just started, still running
			rm -f "$dir/minio.pid"
			echo "minio-server.sh: MinIO not ready after ${READY_TIMEOUT_SEC}s; log tail:" >&2
			tail -n 40 "$dir/minio.log" >&2
			exit 1
		fi
		rm -f "$dir/minio.pid"
	done
	echo "minio-server.sh: MinIO exited $START_ATTEMPTS times during start; log tail:" >&2
	tail -n 40 "$dir/minio.log" >&2
	exit 1
}

cmd_stop() {
	local dir=$1 pid
	[[ -f "$dir/minio.pid" ]] || { echo "minio-server.sh: not running (no $dir/minio.pid)"; return 0; }
	pid=$(cat "$dir/minio.pid")
	stop_pid "$pid"
	rm -f "$dir/minio.pid" "$dir/minio.env"
	echo "minio-server.sh: stopped (pid $pid)"
}

[[ $# -eq 2 ]] || usage
case "$1" in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
*) usage ;;
esac
