#!/bin/sh
# The collector's history on its two stores, side by side in one run: collector_bench with
# the same hosts on an SQLite file and on PostgreSQL (a private cluster, tests/tools/
# pg-cluster.sh, with the server's durable defaults: fsync on). Arguments go to both runs.
#   bench/collector_stores.sh [--hosts 1000] [--domains 10000] [--ips 20000] ...
set -eu
cd "$(dirname "$0")/.."
bench=build/bench/collector_bench
[ -x "$bench" ] || { echo "collector_stores: build $bench first" >&2; exit 2; }
dir=$(mktemp -d /tmp/em-bench-pg.XXXXXX)
trap 'sh tests/tools/pg-cluster.sh stop "$dir"' EXIT
# Durable as a production server would be; a larger WAL between checkpoints, as one would set.
url=$(PG_OPTIONS="-c max_wal_size=4GB -c shared_buffers=512MB" sh tests/tools/pg-cluster.sh start "$dir")
echo "== SQLite"
"$bench" --resolvers packaging/public-resolvers.txt --db /tmp/collector-bench.sqlite "$@"
echo "== PostgreSQL"
"$bench" --resolvers packaging/public-resolvers.txt --db "$url" "$@"
