#!/bin/bash
# `egress-monitor doctor` against a real set-up in a namespace of its own: consolidate's
# ledger and files, the real nftables logging table (packaging/egress-log.nft) and a real
# HTTPS endpoint (`serve`, a certificate naming doctor.test, reached through it). Healthy:
# every check ok, exit status 0. Then each part broken in turn must be a FAIL naming it, with
# a fix, and exit status 1: the log rule gone, the endpoint's token changed, the endpoint
# stopped, a file corrupted, the resolver pointed elsewhere.
source "$(dirname "$0")/lib.sh"
need_root

ip netns add "$NS_UP"
in_up ip link set lo up

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=doctor.test \
    -addext subjectAltName=DNS:doctor.test -days 1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
head -c 24 /dev/urandom | base64 >"$WORK/token"
chmod 600 "$WORK/token" "$WORK/key.pem"
mkdir -p "$WORK/out" "$WORK/state"
printf 'nameserver 127.0.0.1\n' >"$WORK/resolv.conf"
PORT=18444
cat >"$WORK/config.toml" <<CONF
dnsmasq_log = "$WORK/dnsmasq.log"
kernel_log = "none"
state_dir = "$WORK/state"
output_dir = "$WORK/out"
[serve]
listen = "0.0.0.0:$PORT"
token_file = "$WORK/token"
tls_cert = "$WORK/cert.pem"
tls_key = "$WORK/key.pem"
CONF
echo "Dec  3 10:00:00 dnsmasq[7]: 1 127.0.0.1/40000 query[A] a.example.test from 127.0.0.1" \
    >"$WORK/dnsmasq.log"
"$EM_BIN" consolidate --config "$WORK/config.toml" || fail "consolidate failed"

# Not through in_up: a function in the background would be a subshell, and $! its pid.
ip netns exec "$NS_UP" "$EM_BIN" serve --config "$WORK/config.toml" 2>"$WORK/serve.log" &
SERVE=$!
PIDS+=("$SERVE")
for _ in $(seq 100); do
    in_up curl -sS --max-time 2 --cacert "$WORK/cert.pem" --resolve "doctor.test:$PORT:127.0.0.1" \
        "https://doctor.test:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

doctor() {  # [config]: runs doctor in the namespace; its report in $WORK/report, status in $rc
    rc=0
    in_up "$EM_BIN" doctor --config "${1:-$WORK/config.toml}" --mode cron \
        --resolv-conf "$WORK/resolv.conf" >"$WORK/report" 2>&1 || rc=$?
}
expect_fail() {  # check-name words-of-its-detail
    [ "$rc" -eq 1 ] || { cat "$WORK/report"; fail "doctor exited $rc with $1 broken, want 1"; }
    grep -q "^FAIL  $1 .*$2" "$WORK/report" || { cat "$WORK/report"; fail "no FAIL for $1 ($2)"; }
    grep -A1 "^FAIL  $1 " "$WORK/report" | grep -q 'fix: ' || { cat "$WORK/report"; fail "$1: no fix"; }
}

# Without the logging table: only the log rule fails.
doctor
expect_fail "log rule" "no new flow is logged"
[ "$(grep -c '^FAIL' "$WORK/report")" -eq 1 ] || { cat "$WORK/report"; fail "more than the log rule failed"; }

in_up nft -f packaging/egress-log.nft
doctor
[ "$rc" -eq 0 ] || { cat "$WORK/report"; fail "healthy set-up: doctor exited $rc"; }
tail -n 1 "$WORK/report" | grep -qx 'all good' || { cat "$WORK/report"; fail "healthy set-up not all good"; }
grep -q "^ok    endpoint .*https://doctor.test:$PORT/v1/summary.json answers with the token" "$WORK/report" ||
    { cat "$WORK/report"; fail "endpoint not checked through its certificate's name"; }
echo "ok: a healthy set-up is all good"

# A config whose token is not the endpoint's.
head -c 24 /dev/urandom | base64 >"$WORK/token2"
chmod 600 "$WORK/token2"
sed "s|$WORK/token\"|$WORK/token2\"|" "$WORK/config.toml" >"$WORK/config2.toml"
grep -q token2 "$WORK/config2.toml" || fail "config2 not made"
doctor "$WORK/config2.toml"
expect_fail endpoint "401"

printf 'nameserver 192.0.2.53\n' >"$WORK/resolv.conf"
doctor
expect_fail resolver "asks 192.0.2.53 first"
printf 'nameserver 127.0.0.1\n' >"$WORK/resolv.conf"

cp "$WORK/out/unique-ips.log" "$WORK/ips.saved"
printf '192.0.2.1 many 2026-12-03T10:00:00Z\n' >"$WORK/out/unique-ips.log"
doctor
expect_fail unique-ips.log "unique-ips.log"
cp "$WORK/ips.saved" "$WORK/out/unique-ips.log"

kill "$SERVE"
wait "$SERVE" 2>/dev/null || true
doctor
expect_fail endpoint "cannot connect"
echo "ok: the log rule, the token, the resolver, a malformed file and a stopped endpoint each fail with a fix"
