#!/usr/bin/env bash
# postgres-server.sh: a throwaway PostgreSQL cluster for integration tests,
# listening on 127.0.0.1 only, with no system service involved.
#
#   scripts/postgres-server.sh start <dir>   initdb into <dir>/pgdata and start on a free loopback
#                                            port; socket in <dir>, log in <dir>/pg.log, env in
#                                            <dir>/postgres.env (COVERS_TEST_PG_URL)
#   scripts/postgres-server.sh stop <dir>    stop it (pg_ctl stop -m immediate)
#
# Needs Debian's server binaries (apt-get install postgresql; `make test` does
# it). PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` system user the Debian package creates, and <dir> (not what else
# it holds) is chowned to it; <dir>'s parents must let that user through (/tmp does).
#
# After start:  . <dir>/postgres.env && COVERS_REQUIRE_SERVERS=1 go test -race ./events/ -run Catalog
set -euo pipefail

START_ATTEMPTS=3
READY_TIMEOUT_SEC=${PG_READY_TIMEOUT_SEC:-60}

die() { echo "postgres-server.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop <dir>"; }

# pg_bindir prints the newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl.
pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [[ -z "$d" || ! -x "$d/initdb" || ! -x "$d/pg_ctl" ]]; then
		die "initdb/pg_ctl not found under /usr/lib/postgresql/*/bin: install Debian's server package, e.g.
  apt-get install -y --no-install-recommends postgresql"
	fi
	echo "$d"
}

# as_pg runs a command as the cluster owner: the postgres user when we are root.
as_pg() {
	if [[ $(id -u) == 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# prepare_dir makes <dir> usable by the cluster owner.
prepare_dir() {
	local dir=$1
	if [[ $(id -u) == 0 ]]; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user (the Debian postgresql package creates it)"
		# Only what the cluster writes: <dir> may be shared (make test keeps
		# MinIO's data beside it), so its other contents stay as they are.
		chown postgres:postgres "$dir"
		[[ ! -e "$dir/pgdata" ]] || chown -R postgres:postgres "$dir/pgdata"
		[[ ! -e "$dir/pg.log" ]] || chown postgres:postgres "$dir/pg.log"
		runuser -u postgres -- test -w "$dir" ||
			die "user postgres cannot reach $dir: use a directory under /tmp (e.g. mktemp -d)"
	fi
}

# port_in_use reports whether something accepts connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a random loopback port in 20000-32767 that nothing listens
# on: below Linux's ephemeral range (32768-60999), where the source port of an
# outgoing loopback connection can take a port between the probe and the bind
# (three attempts in a row once failed that way, "Address already in use").
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12768))
		port_in_use "$p" || { echo "$p"; return 0; }
	done
	die "no free port found in 20000-32767"
}

# running reports whether the cluster in <dir>/pgdata is up.
running() { [[ -f "$1/pgdata/postmaster.pid" ]] && as_pg "$2/pg_ctl" -D "$1/pgdata" status >/dev/null 2>&1; }

log_tail() {
	echo "postgres-server.sh: $1; log tail:" >&2
	tail -n 40 "$2/pg.log" >&2 2>/dev/null || true
	exit 1
}

cmd_start() {
	local dir=$1 bin port attempt seen
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	bin=$(pg_bindir)
	if running "$dir" "$bin" && [[ -f "$dir/postgres.env" ]]; then
		echo "postgres-server.sh: already running, env in $dir/postgres.env"
		return 0
	fi
	rm -f "$dir/postgres.env"
	prepare_dir "$dir"
	if [[ ! -f "$dir/pgdata/PG_VERSION" ]]; then
		as_pg "$bin/initdb" -D "$dir/pgdata" -A trust -U postgres -E UTF8 --locale=C --no-sync \
			>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	fi
	for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
		port=$(free_port)
		seen=$(wc -l 2>/dev/null <"$dir/pg.log" || echo 0)
		echo "=== start attempt $attempt on 127.0.0.1:$port $(date -u +%FT%TZ)" | as_pg tee -a "$dir/pg.log" >/dev/null
		if as_pg "$bin/pg_ctl" -D "$dir/pgdata" -l "$dir/pg.log" -w -t "$READY_TIMEOUT_SEC" \
			-o "-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
			start >/dev/null 2>&1; then
			(
				umask 077
				echo "export COVERS_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" >"$dir/postgres.env"
			)
			echo "postgres-server.sh: PostgreSQL ready on 127.0.0.1:$port, env in $dir/postgres.env"
			return 0
		fi
		# Lost the port to another process between probe and bind? Try another.
		running "$dir" "$bin" && as_pg "$bin/pg_ctl" -D "$dir/pgdata" stop -m immediate >/dev/null 2>&1 || true
		tail -n "+$((seen + 1))" "$dir/pg.log" 2>/dev/null | grep -q 'could not bind\|could not create any TCP/IP sockets' ||
			log_tail "PostgreSQL did not start" "$dir"
	done
	log_tail "PostgreSQL failed to start $START_ATTEMPTS times" "$dir"
}

cmd_stop() {
	local dir=$1 bin
	bin=$(pg_bindir)
	if [[ -d "$dir/pgdata" ]] && running "$dir" "$bin"; then
		as_pg "$bin/pg_ctl" -D "$dir/pgdata" stop -m immediate -w >/dev/null
		echo "postgres-server.sh: stopped"
	else
		echo "postgres-server.sh: not running in $dir"
	fi
	rm -f "$dir/postgres.env"
}

[[ $# -eq 2 ]] || usage
case "$1" in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
*) usage ;;
esac
