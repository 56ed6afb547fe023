#!/bin/bash
# The endpoint under slow and greedy clients, two servers side by side in one run: the
# build's `egress-monitor serve` (libmicrohttpd) and a baseline binary (the cpp-httplib 0.11
# server it replaced, last in commit db4ff2c). Each runs alone in a namespace of its own and
# gets the same attack as tests/integration/serve_hostile.sh (tests/tools/serve_attack.py):
# 64 slow TLS clients for --seconds while an honest client fetches, then four 64 MiB request
# lines. Prints one line per server and figure. Root.
#
#   bench/serve_attack.sh --baseline PATH [--binary PATH] [--seconds 20]
#
# A baseline binary:
#   git worktree add /tmp/em-httplib db4ff2c && cmake -S /tmp/em-httplib -B /tmp/em-httplib/build \
#     -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/em-httplib/build --target egress-monitor
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$PWD/build/egress-monitor baseline="" seconds=20
while [ $# -gt 0 ]; do
    case "$1" in
    --binary) binary=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: $0 --baseline PATH [--binary PATH] [--seconds N]" >&2; exit 2 ;;
    esac
done
[ -n "$baseline" ] || { echo "serve_attack: --baseline PATH is required" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "serve_attack: run as root (namespaces)" >&2; exit 2; }
ns="emsb$$"
work=$(mktemp -d)
server=""
finish() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap finish EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout "$work/key.pem" -out "$work/cert.pem" \
    2>/dev/null
head -c 24 /dev/urandom | base64 >"$work/token"
chmod 600 "$work/token"
mkdir -p "$work/out" "$work/state"
printf 'a.example 3 2026-12-01T10:00:00Z -\n' >"$work/out/unique-domains.log"
printf '192.0.2.10 2 2026-12-01T10:00:00Z\n' >"$work/out/unique-ips.log"

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
printf '%-14s %-36s %s\n' server figure value
for which in libmicrohttpd:"$binary" cpp-httplib:"$baseline"; do
    name=${which%%:*} bin=${which#*:}
    ip netns exec "$ns" "$bin" serve --listen 127.0.0.1:18443 --token-file "$work/token" \
        --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --output-dir "$work/out" \
        --state-dir "$work/state" 2>/dev/null &
    server=$!
    for _ in $(seq 50); do
        ip netns exec "$ns" curl -s --cacert "$work/cert.pem" https://127.0.0.1:18443/healthz \
            >/dev/null && break
        sleep 0.1
    done
    slow=$(ip netns exec "$ns" python3 tests/tools/serve_attack.py slow --port 18443 \
        --ca "$work/cert.pem" --token "$(cat "$work/token")" --seconds "$seconds")
    greedy=$(ip netns exec "$ns" python3 tests/tools/serve_attack.py greedy --port 18443 \
        --pid "$server")
    printf '%-14s %-36s %s\n' "$name" "honest requests (in ${seconds} s)" "$(field "$slow" honest_requests)"
    printf '%-14s %-36s %s\n' "$name" "honest requests failed" "$(field "$slow" honest_failure_count)"
    printf '%-14s %-36s %s\n' "$name" "honest requests taking >= 2 s" "$(field "$slow" honest_over_2s)"
    printf '%-14s %-36s %s s\n' "$name" "slowest honest request" "$(field "$slow" honest_slowest_seconds)"
    printf '%-14s %-36s %s s\n' "$name" "longest slow connection" "$(field "$slow" slow_longest_life_seconds)"
    printf '%-14s %-36s %s MiB\n' "$name" "RSS growth, 4 x 64 MiB request lines" "$(field "$greedy" rss_growth_mib)"
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=""
done
