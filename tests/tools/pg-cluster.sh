#!/bin/sh
# A private PostgreSQL cluster for the tests and the benchmark: initdb in DIR and a server
# that listens only on a Unix socket in DIR (no TCP port), run as the calling user or, when
# that is root (whom PostgreSQL refuses), as the unprivileged user postgres that Debian's
# package creates. Nothing system-wide: no service, no /etc, no port.
#   pg-cluster.sh start DIR   creates DIR, starts the server, prints the connection URL
#   pg-cluster.sh stop DIR    stops the server (immediate shutdown) and removes DIR
# PG_OPTIONS adds server settings ("-c name=value ..."); by default the cluster trades
# durability for speed (fsync=off), as a test's throw-away data can.
# Exit 77 (a skip for ctest) when PostgreSQL's server is not installed.
set -eu
usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "pg-cluster: PostgreSQL's server is not installed (scripts/deps.sh test)" >&2
    exit 77
fi
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
start)
    # A cluster left by a run that was killed: stopped and replaced.
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        runuser -u postgres -- test -w "$dir" || {
            echo "pg-cluster: the user postgres cannot reach $dir (a parent directory is closed)" >&2
            exit 1
        }
    fi
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U em -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # shellcheck disable=SC2086 # PG_OPTIONS is a list of options
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -c listen_addresses='' ${PG_OPTIONS:--c fsync=off -c full_page_writes=off}" \
        start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    as_owner "$bin/createdb" -h "$dir" -U em em
    echo "postgresql:///em?host=$dir&user=em"
    ;;
stop)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$dir"
    ;;
*) usage ;;
esac
