#!/bin/bash
# One collector cycle against hosts gone bad (tests/tools/hostile_https.py, HTTPS on
# 127.0.0.2-6 in a namespace of its own): 100 MB of response headers, a header byte every
# 0.5 s forever, a server that accepts and never answers, a body byte every 0.5 s; and a good
# host listed last. `collect --once --timeout 3s --retries 1` (backoff 0.5 s) runs under
# /usr/bin/time. Checked, from the collector's own per-host lines timestamped as they appear:
#   - the good host's files are fetched within 1.5 s of the start, while every hostile
#     host is still stalling (hosts run in parallel; a stalled one delays nobody), and the
#     cycle stores them (1 fetched, 4 failed);
#   - the header flood fails at once as oversized headers (not retried), within 3 s;
#   - each stalled host fails "timed out after 2 attempts" within 2 x 3 s + 0.5 s + slack;
#   - the whole cycle ends within 2 x 3 s + 0.5 s + 2 s of slack;
#   - the collector's max RSS stays under 80 MB despite the 100 MB of headers.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
for p in openssl python3 /usr/bin/time timeout; do
    command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }
done
NS="emfet$$"
hostile_cleanup() {
    cleanup
    ip netns del "$NS" 2>/dev/null || true
}
trap hostile_cleanup EXIT
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

TIMEOUT_MS=3000
RETRIES=1
BACKOFF_MS=500
SLACK_MS=2000
MAX_RSS_KB=$((80 * 1024))

# --- a CA and one server certificate for every listener's address
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=emfet-ca -days 1 \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=emfet-hostile \
    -keyout "$WORK/srv.key" -out "$WORK/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4,IP:127.0.0.5,IP:127.0.0.6\n' \
    >"$WORK/san.ext"
openssl x509 -req -in "$WORK/srv.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 1 -extfile "$WORK/san.ext" -out "$WORK/srv.pem" 2>/dev/null
echo "emfet-token-$$-0123456789" >"$WORK/token"
chmod 600 "$WORK/token"
mkdir -p "$WORK/files"
printf '%s\n' "api.example.com 12 2024-05-01T10:00:00Z 192.0.2.10" >"$WORK/files/unique-domains.log"
printf '%s\n' "192.0.2.10 7 2024-05-01T10:00:00Z" >"$WORK/files/unique-ips.log"

# name → address and mode; the good host last, behind every stalled one.
NAMES=(flood trickleh silent trickleb good)
declare -A ADDR=([flood]=127.0.0.3 [trickleh]=127.0.0.4 [silent]=127.0.0.5 [trickleb]=127.0.0.6
    [good]=127.0.0.2)
declare -A MODE=([flood]=headers [trickleh]=trickle-headers [silent]=silent
    [trickleb]=trickle-body [good]=good)
listeners=()
for n in "${NAMES[@]}"; do listeners+=("${ADDR[$n]}:8443=${MODE[$n]}"); done
# ip netns exec itself (not the in_ns function): ip execs python, so $! is the server's pid
# and cleanup's kill reaches it.
ip netns exec "$NS" python3 -u tests/tools/hostile_https.py --cert "$WORK/srv.pem" --key "$WORK/srv.key" \
    --token "emfet-token-$$-0123456789" --dir "$WORK/files" "${listeners[@]}" >"$WORK/server.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do grep -q ' ready$' "$WORK/server.log" && break; sleep 0.05; done
grep -q ' ready$' "$WORK/server.log" || fail "hostile server did not start: $(cat "$WORK/server.log")"

: >"$WORK/inventory.toml"
for n in "${NAMES[@]}"; do
    cat >>"$WORK/inventory.toml" <<CONF
[[host]]
name = "$n"
url = "https://${ADDR[$n]}:8443"
token_file = "$WORK/token"
ca_file = "$WORK/ca.pem"
CONF
done
printf '[history]\npath = "%s"\n' "$WORK/history.sqlite" >"$WORK/collector.toml"

# The collector's stderr, each line stamped (milliseconds since the start) as it appears.
us() { echo "${EPOCHREALTIME/./}"; }
start=$(us)
set +e
in_ns timeout -k 2 30 /usr/bin/time -v -o "$WORK/time.txt" "$EM_BIN" collect \
    --inventory "$WORK/inventory.toml" --config "$WORK/collector.toml" --once \
    --timeout "${TIMEOUT_MS}ms" --retries "$RETRIES" -v 2>&1 >"$WORK/collect.out" |
    while IFS= read -r line; do
        printf '%s %s\n' $((($(us) - start) / 1000)) "$line"
    done >"$WORK/collect.log"
rc=${PIPESTATUS[0]}
set -e
took=$((($(us) - start) / 1000))
show() {
    echo "--- collector (ms since the start):" >&2
    cat "$WORK/collect.log" >&2
    echo "--- server:" >&2
    tail -30 "$WORK/server.log" >&2
}
[ "$rc" = 0 ] || { show; fail "collect exit status $rc (124 or 137: still running after 30 s)"; }

le() { [ "$1" -le "$2" ]; }
# The line the fetcher logs when host $1 is done: "<t> ... fetch: <name> (<url>): ..."
done_line() { grep -F "fetch: $1 (https://${ADDR[$1]}:8443)" "$WORK/collect.log" | head -1; }
done_at() { done_line "$1" | cut -d' ' -f1; }

per_host=$((TIMEOUT_MS * (RETRIES + 1) + BACKOFF_MS + SLACK_MS))
for n in "${NAMES[@]}"; do [ -n "$(done_line "$n")" ] || { show; fail "no fetch line for $n"; }; done

good=$(done_line good)
grep -q "fetched in .* 1 attempt" <<<"$good" || { show; fail "good host not fetched: $good"; }
le "$(done_at good)" 1500 || { show; fail "good host's files came at $(done_at good) ms, behind the stalled hosts"; }
grep -q "collect: 5 hosts: 1 fetched, 0 unchanged, 4 failed" "$WORK/collect.log" ||
    { show; fail "cycle summary"; }

flood=$(done_line flood)
grep -q "oversized: unique-domains.log response headers" <<<"$flood" ||
    { show; fail "header flood: $flood"; }
grep -q "attempts" <<<"$flood" && { show; fail "header flood retried: $flood"; }
le "$(done_at flood)" "$TIMEOUT_MS" || { show; fail "header flood took $(done_at flood) ms"; }

for n in trickleh silent trickleb; do
    l=$(done_line "$n")
    grep -q "timed out after $((RETRIES + 1)) attempts" <<<"$l" || { show; fail "$n: $l"; }
    le "$(done_at "$n")" "$per_host" || { show; fail "$n done at $(done_at "$n") ms, over $per_host ms"; }
done
le "$took" "$per_host" || { show; fail "cycle took $took ms, over $per_host ms"; }

rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
[ -n "$rss" ] && [ "$rss" -lt "$MAX_RSS_KB" ] || { show; fail "max RSS ${rss:-?} kB, over $MAX_RSS_KB kB"; }

echo "ok: good host in $(done_at good) ms; flood refused in $(done_at flood) ms;" \
    "stalled hosts failed in $(done_at trickleh)/$(done_at silent)/$(done_at trickleb) ms;" \
    "cycle $took ms (bound $per_host ms); max RSS $rss kB"
