#!/bin/bash
# The collector's pages, from a real collector's history, read in a real browser: the
# `report --format html` file and the `dashboard` served over HTTPS. In a namespace of its
# own (loopback only — the browser too, so it can reach nothing else):
#   web1  `egress-monitor serve` over HTTPS with files consolidate made from a dnsmasq log
#   web2  `serve` with a unique-domains.log whose bad line is markup (<img onerror=...>)
#   db1   nothing listening
# `collect --once` fetches them (a CA made here with openssl). Then:
#   - `report --format html` writes the page and headless Chromium (Debian's `chromium`)
#     renders it. Checked in the DOM the browser built: each host's row with its status
#     (fresh, failing), the alerts grouped by rule with their meaning, the status chart, and
#     web2's line as text, never an element.
#   - `egress-monitor dashboard` serves the same history (as nobody, once bound): curl checks
#     the token (401 without it or with a wrong one, /healthz open) and the certificate;
#     Chromium logs in with the token as the HTTP Basic password and renders the overview
#     (hosts linked, an alert), web1's page (its domain, the growth chart), a domain page and
#     a search; an incident's page, whose acknowledgement is then posted (refused without
#     the page's anti-forgery value) and shows in `egress-monitor alerts`.
# web1's agent also sends who did it (process-uses.log): its host page lists the process,
# its user and container, the path (markup) as text.
# Screenshots of every page are kept as test artifacts (build/test-artifacts/*.png, or
# $EM_ARTIFACTS). EM_HISTORY=postgres (collector_pages_postgres.sh): the same pages from a
# history in PostgreSQL.
source "$(dirname "$0")/lib.sh"
need_root
command -v chromium >/dev/null || { echo "skipped: no chromium (scripts/deps.sh test)" >&2; exit 77; }
artifacts=${EM_ARTIFACTS:-$PWD/build/test-artifacts}
[ "${EM_HISTORY:-sqlite}" = postgres ] && artifacts=$artifacts/postgres
mkdir -p "$artifacts"

ip netns add "$NS_UP"
in_up ip link set lo up

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=fleet.test \
    -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
head -c 24 /dev/urandom | base64 >"$WORK/token"
# Hex: it goes into the browser's URL as the Basic password.
openssl rand -hex 24 >"$WORK/dashboard-token"
chmod 600 "$WORK/token" "$WORK/dashboard-token" "$WORK/key.pem"

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
mkdir "$WORK/hist"
# max_age_minutes = 0: the unreachable db1 is stale at its first failure.
history_store "$WORK/hist/history.sqlite"
printf '[history]\n%s\n[rules.public_resolver]\nlist = "%s"\n[rules.stale]\nmax_age_minutes = 0\n' \
    "$HISTORY_TOML" "$PWD/packaging/public-resolvers.txt" >"$WORK/collector.toml"
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

screenshot() {  # NAME URL [BROWSER ARGS...]; $SHOT_SIZE: the window (1280,900)
    browse "${@:3}" --screenshot="$artifacts/$1.png" --window-size="${SHOT_SIZE:-1280,900}" "$2" >/dev/null ||
        { tail "$WORK/chromium.log"; fail "screenshot of $2 failed"; }
    [ "$(head -c 8 "$artifacts/$1.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        fail "the screenshot $1 is not a PNG"
    [ "$(stat -c %s "$artifacts/$1.png")" -gt 20000 ] || fail "the screenshot $1 is nearly empty"
}
screenshot report "file://$WORK/report.html"
echo "ok: report --format html from a real collector, rendered by Chromium: statuses, alerts by rule, chart, markup kept as text"

# A second cycle in which web1 looked up one more name: a bar in its growth chart.
cat >>"$WORK/web1/dnsmasq.log" <<'LOG'
Dec  3 10:05:00 dnsmasq[7]: 2 127.0.0.1/40001 query[A] cdn.example.test from 127.0.0.1
Dec  3 10:05:00 dnsmasq[7]: 2 127.0.0.1/40001 forwarded cdn.example.test to 192.0.2.53
Dec  3 10:05:00 dnsmasq[7]: 2 127.0.0.1/40001 reply cdn.example.test is 192.0.2.11
LOG
"$EM_BIN" consolidate --config "$WORK/web1/config.toml" || fail "consolidate failed"
# And who did it, as an agent with attribution writes it (format/aggregate.h): a program whose
# path is markup (a local user names their files), in a container. Served by `serve` and
# fetched with the two files.
printf 'd cdn.example.test /tmp/<img%%20src=x%%20onerror=alert(2)> alice 3f2a9c0011223344 1 2026-12-03T10:05:00Z 2026-12-03T10:05:00Z\n' \
    >"$WORK/web1/out/process-uses.log"
in_up "$EM_BIN" collect --once --inventory "$WORK/inventory.toml" --config "$WORK/collector.toml" \
    --timeout 2s --retries 0 >>"$WORK/collect.out" 2>>"$WORK/collect.log" ||
    { cat "$WORK/collect.log"; fail "the second collect failed"; }

# The dashboard on the same history, HTTPS with the fleet's certificate, as nobody once bound.
cat >>"$WORK/collector.toml" <<CONF
[dashboard]
listen = "127.0.0.1:18464"
token_file = "$WORK/dashboard-token"
users_file = "$WORK/dashboard-users"
tls_cert = "$WORK/cert.pem"
tls_key = "$WORK/key.pem"
user = "nobody"
CONF
# A named login beside the shared token: its token printed once, only its digest kept.
carol=$("$EM_BIN" dashboard --config "$WORK/collector.toml" --add-user carol 2>"$WORK/add-user.log") ||
    { cat "$WORK/add-user.log"; fail "dashboard --add-user failed"; }
[ ${#carol} -eq 48 ] || fail "--add-user printed no token"
! grep -q "$carol" "$WORK/dashboard-users" || fail "the users file holds the token itself"
[ "$(stat -c %a "$WORK/dashboard-users")" = 600 ] || fail "the users file is not mode 600"
# The dashboard opens the history once it is nobody (as collect's own user would on a
# collector host): the history's directory is nobody's, the work directory only traversable.
chmod 711 "$WORK"
chown -R nobody:nogroup "$WORK/hist"
chmod 700 "$WORK/hist"
ip netns exec "$NS_UP" "$EM_BIN" dashboard -v --config "$WORK/collector.toml" 2>"$WORK/dashboard.log" &
PIDS+=("$!")
url=https://127.0.0.1:18464
for _ in $(seq 100); do
    in_up curl -sS --max-time 2 --cacert "$WORK/cert.pem" "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
[ "$(in_up curl -sS --cacert "$WORK/cert.pem" "$url/healthz")" = ok ] ||
    { cat "$WORK/dashboard.log"; fail "the dashboard did not come up"; }
code() { in_up curl -sS -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" "$@"; }
[ "$(code "$url/")" = 401 ] || fail "the overview without the token is not 401"
[ "$(code -u "x:wrong-token-0123456789" "$url/host?name=web1")" = 401 ] || fail "a wrong token is not 401"
token=$(cat "$WORK/dashboard-token")
[ "$(code -u "x:$token" "$url/")" = 200 ] || fail "the token as Basic password is refused"
[ "$(code -H "Authorization: Bearer $token" "$url/search?q=web")" = 200 ] || fail "the token as Bearer is refused"
[ "$(ps -o user= -p "${PIDS[-1]}")" = nobody ] || fail "the dashboard did not become nobody"

page() {  # NAME PATH: the DOM Chromium built for PATH, logged in with the token
    browse --ignore-certificate-errors --dump-dom "https://user:$token@127.0.0.1:18464$2" \
        >"$WORK/$1.html" || { tail "$WORK/chromium.log"; fail "chromium failed on $2"; }
    dom=$WORK/$1.html
    screenshot "dashboard-$1" "https://user:$token@127.0.0.1:18464$2" --ignore-certificate-errors
}
page overview /
has '<title>egress-monitor: fleet</title>'
has '<a href="/host?name=web1">web1</a>'
has '<a href="/host?name=db1">db1</a>'
has '<h3><code>stale</code> (2)</h3>'
has '<svg id="status-chart"'
has 'role="search"'
page host '/host?name=web1'
has '<h1>web1</h1>'
has '<a href="/domain?name=api.example.test">api.example.test</a>'
has '<svg id="growth-chart"'
grep -qE '<rect [^>]*><title>[0-9-]+: 1 new domains' "$dom" || fail "no bar for web1's new name in its growth chart"
has '<a href="/?tag=prod">prod</a>'
has '<table id="process-table"><caption>1 processes</caption>'
has '<code>/tmp/&lt;img src=x onerror=alert(2)&gt;</code> as alice in container <code>3f2a9c001122</code>'
has '<a href="/domain?name=cdn.example.test">cdn.example.test</a></th><td><code>/tmp/'
! grep -q '<img' "$dom" || fail "a process path became an element"
# The whole page, down to its processes.
SHOT_SIZE=1280,1500 screenshot dashboard-host-full "https://user:$token@127.0.0.1:18464/host?name=web1" \
    --ignore-certificate-errors
page domain '/domain?name=api.example.test'
has 'Listed by <b>1</b> of 1 hosts'
has '<a href="/host?name=web1">web1</a>'
page address '/ip?addr=192.0.2.10'
has '<h1><code>192.0.2.10</code></h1>'
has '<a href="/domain?name=api.example.test">api.example.test</a>'
page alerts /alerts
has '<h1>Alerts</h1>'
has '<code>stale</code>'
page search '/search?q=example'
has '2 domains, 0 addresses contain <code>example</code>'
has '<a href="/domain?name=api.example.test">api.example.test</a>'
# An incident's page, and its acknowledgement posted as the browser's form would be: done
# over HTTPS, audited with the user name, and seen by `egress-monitor alerts`.
id=$(grep -o '/alert?id=[0-9]*' "$WORK/overview.html" | head -1 | cut -d= -f2)
[ -n "$id" ] || fail "the overview links no incident"
page incident "/alert?id=$id"
has '<form method="post" action="/alert/ack"'
csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$dom" | head -1 | cut -d'"' -f4)
[ ${#csrf} -eq 64 ] || fail "no anti-forgery value in the incident's forms"
post() {  # FORM: the HTTP status of the acknowledgement posted as ops
    in_up curl -sS -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" -u "ops:$token" \
        -H 'Sec-Fetch-Site: same-origin' --data "$1" "$url/alert/ack"
}
[ "$(post "id=$id&why=looking")" = 403 ] || fail "an acknowledgement without the anti-forgery value was not refused"
[ "$(post "id=$id&why=looking+into+it&csrf=$csrf")" = 303 ] || fail "the acknowledgement was not done"
page incident "/alert?id=$id"
has 'acknowledged by ops (dashboard)'
"$EM_BIN" alerts --config "$WORK/collector.toml" | grep -q "#$id .*\[acked by ops (dashboard)" ||
    fail "egress-monitor alerts does not show the dashboard's acknowledgement"
# carol's login: her token is hers alone, and what she does is audited under her verified name.
[ "$(code -u "ops:$carol" "$url/alerts")" = 401 ] || fail "carol's token opened the dashboard as ops"
[ "$(code -u "carol:$token" "$url/alerts")" = 200 ] || fail "the shared token stopped working beside logins"
id2=$(grep -o '/alert?id=[0-9]*' "$WORK/overview.html" | cut -d= -f2 | sort -un | grep -vx "$id" | head -1)
[ -n "$id2" ] || fail "the overview links no second incident"
csrf2=$(in_up curl -sS --cacert "$WORK/cert.pem" -u "carol:$carol" "$url/alert?id=$id2" |
    grep -o 'name="csrf" value="[0-9a-f]*"' | head -1 | cut -d'"' -f4)
[ ${#csrf2} -eq 64 ] && [ "$csrf2" != "$csrf" ] || fail "carol's forms do not carry her own anti-forgery value"
[ "$(in_up curl -sS -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" -u "carol:$carol" \
    -H 'Sec-Fetch-Site: same-origin' --data "id=$id2&why=mine&csrf=$csrf2" "$url/alert/ack")" = 303 ] ||
    fail "carol's acknowledgement was not done"
"$EM_BIN" alerts --config "$WORK/collector.toml" | grep -q "#$id2 .*\[acked by carol (dashboard login)" ||
    fail "egress-monitor alerts does not show carol's verified acknowledgement"
echo "ok: the dashboard over HTTPS behind its token (401 without), rendered by Chromium: overview, host page with growth chart and processes, domain page, address page, alerts page, search, an incident acknowledged (audited, seen by alerts), a named login's acknowledgement audited under its verified name; screenshots in $artifacts"
