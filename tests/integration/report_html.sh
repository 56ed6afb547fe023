#!/bin/bash
# `report --format html` from a real collector's history, read in a real browser. In a
# namespace of its own (loopback only — the browser too, so it can reach nothing else):
#   web1  `egress-monitor serve` over HTTPS with files consolidate made from a dnsmasq log
#   web2  `serve` with a unique-domains.log whose bad line is markup (<img onerror=...>)
#   db1   nothing listening
# `collect --once` fetches them (a CA made here with openssl), then `report --format html`
# writes the page and headless Chromium (Debian's `chromium`) renders it. Checked in the DOM
# the browser built: each host's row with its status (fresh, failing), the alerts grouped by
# rule with their meaning, the status chart, and web2's line as text, never an element. A
# screenshot of the page is kept as a test artifact (build/test-artifacts/report.png, or
# $EM_ARTIFACTS).
source "$(dirname "$0")/lib.sh"
need_root
command -v chromium >/dev/null || { echo "skipped: no chromium (scripts/deps.sh test)" >&2; exit 77; }
artifacts=${EM_ARTIFACTS:-$PWD/build/test-artifacts}
mkdir -p "$artifacts"

ip netns add "$NS_UP"
in_up ip link set lo up

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=fleet.test \
    -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
head -c 24 /dev/urandom | base64 >"$WORK/token"
chmod 600 "$WORK/token" "$WORK/key.pem"

serve_host() {  # NAME PORT: a config serving $WORK/NAME/out on 127.0.0.1:PORT, started
    local d=$WORK/$1
    mkdir -p "$d/out" "$d/state"
    cat >"$d/config.toml" <<CONF
dnsmasq_log = "$d/dnsmasq.log"
kernel_log = "none"
state_dir = "$d/state"
output_dir = "$d/out"
[serve]
listen = "127.0.0.1:$2"
token_file = "$WORK/token"
tls_cert = "$WORK/cert.pem"
tls_key = "$WORK/key.pem"
CONF
    # Not through in_up: a function in the background would be a subshell, and $! its pid.
    ip netns exec "$NS_UP" "$EM_BIN" serve --config "$d/config.toml" 2>"$d/serve.log" &
    PIDS+=("$!")
}
ready() {  # PORT
    local _
    for _ in $(seq 100); do
        in_up curl -sS --max-time 2 --cacert "$WORK/cert.pem" "https://127.0.0.1:$1/healthz" \
            >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "serve on port $1 did not come up"
}

mkdir -p "$WORK/web1"
cat >"$WORK/web1/dnsmasq.log" <<'LOG'
Dec  3 10:00:00 dnsmasq[7]: 1 127.0.0.1/40000 query[A] api.example.test from 127.0.0.1
Dec  3 10:00:00 dnsmasq[7]: 1 127.0.0.1/40000 forwarded api.example.test to 192.0.2.53
Dec  3 10:00:00 dnsmasq[7]: 1 127.0.0.1/40000 reply api.example.test is 192.0.2.10
LOG
serve_host web1 18461
"$EM_BIN" consolidate --config "$WORK/web1/config.toml" || fail "consolidate failed"
serve_host web2 18462
printf '<img src=x onerror=alert(1)> 1 2026-12-03T10:00:00Z -\n' >"$WORK/web2/out/unique-domains.log"
: >"$WORK/web2/out/unique-ips.log"
ready 18461
ready 18462

cat >"$WORK/inventory.toml" <<CONF
[[host]]
name = "web1"
url = "https://127.0.0.1:18461"
token_file = "$WORK/token"
ca_file = "$WORK/cert.pem"
tags = ["prod", "web"]

[[host]]
name = "web2"
url = "https://127.0.0.1:18462"
token_file = "$WORK/token"
ca_file = "$WORK/cert.pem"

[[host]]
name = "db1"
url = "https://127.0.0.1:18463"
token_file = "$WORK/token"
ca_file = "$WORK/cert.pem"
CONF
# max_age_minutes = 0: the unreachable db1 is stale at its first failure.
printf '[history]\npath = "%s/history.sqlite"\n[rules.public_resolver]\nlist = "%s"\n[rules.stale]\nmax_age_minutes = 0\n' \
    "$WORK" "$PWD/packaging/public-resolvers.txt" >"$WORK/collector.toml"
in_up "$EM_BIN" collect --once --inventory "$WORK/inventory.toml" --config "$WORK/collector.toml" \
    --timeout 2s --retries 0 >"$WORK/collect.out" 2>"$WORK/collect.log" ||
    { cat "$WORK/collect.log"; fail "collect failed"; }
"$EM_BIN" report --format html --config "$WORK/collector.toml" >"$WORK/report.html" ||
    fail "report --format html failed"

# The browser: its own profile, inside the namespace (loopback only), as root hence no sandbox.
browse() {  # ARGS... (after the common ones)
    in_up chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
        --user-data-dir="$WORK/chromium" "$@" 2>>"$WORK/chromium.log"
}
browse --dump-dom "file://$WORK/report.html" >"$WORK/dom.html" || { tail "$WORK/chromium.log"; fail "chromium failed"; }
dom=$WORK/dom.html
has() { grep -qF -- "$1" "$dom" || { cat "$dom" >&2; fail "the rendered page lacks: $1"; }; }
has '<th scope="row">web1</th><td class="status fresh">fresh</td><td>prod, web</td>'
has '<th scope="row">web2</th><td class="status failing">failing</td>'
has '<th scope="row">db1</th><td class="status failing">failing</td>'
has '<h3><code>rejected</code> (1)</h3>'
has 'the host'"'"'s files were refused'
has '<h3><code>stale</code> (2)</h3>'
has '<svg id="status-chart" role="img" aria-label="hosts by status: 2 failing, 1 fresh"'
has '&lt;img src=x onerror=alert(1)&gt;'
! grep -q '<img' "$dom" || fail "a reported line became an element"
[ "$(grep -o '<rect ' "$dom" | wc -l)" -eq 2 ] || fail "the chart has not one bar per status present"
# web1's one domain (no kernel log: no address) and no open alert; web2's rejection alert.
grep -qE '<th scope="row">web1</th>.*<td class="n">1</td><td class="n">0</td><td class="n">0</td>' "$dom" ||
    fail "web1's counts"

browse --screenshot="$artifacts/report.png" --window-size=1280,900 "file://$WORK/report.html" \
    >/dev/null || { tail "$WORK/chromium.log"; fail "screenshot failed"; }
[ "$(head -c 8 "$artifacts/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "the screenshot is not a PNG"
[ "$(stat -c %s "$artifacts/report.png")" -gt 20000 ] || fail "the screenshot is nearly empty"
echo "ok: report --format html from a real collector, rendered by Chromium: statuses, alerts by rule, chart, markup kept as text; screenshot in $artifacts/report.png"
