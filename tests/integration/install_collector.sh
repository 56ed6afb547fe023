#!/bin/bash
# install.sh --mode collector on fake roots: the user's directories and their modes, the
# dashboard's token, key and certificate (0600/0600/0644, a pair, fingerprint printed), the
# templates accepted by the real binary (`collect --once` on the inventory's example hosts,
# fetched in a network namespace of loopback only, then `report`), the units clean under
# `systemd-analyze verify`, install twice = once, the operator's config and inventory never
# rewritten (kept by --keep-data), switching to and from the other modes, uninstall byte for
# byte. Then the no-systemd path for real: collector-bg.sh starts collect in the background
# (pidfile, once only), reports it, stops it. The dashboard runs from the installed config,
# key and token, checked with curl against its certificate.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${EGRESS_MONITOR:-build/egress-monitor}")
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (unshare -n)" >&2; exit 77; }
work=$(mktemp -d)
bgpid=""
cleanup() {
    if [ -n "$bgpid" ] && [ -r "/proc/$bgpid/cmdline" ] &&
        [ "$(tr '\0' ' ' <"/proc/$bgpid/cmdline" | cut -d' ' -f1-2)" = "$bin collect" ]; then
        kill "$bgpid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

snapshot() {  # every path with type, mode, owner, link target and content hash
    (cd "$1" && find . -printf '%p %y %m %u:%g %l\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
fail() { echo "FAIL: $*" >&2; exit 1; }
same() {  # ROOT BEFORE WHAT
    [ "$(snapshot "$1")" = "$2" ] || { diff <(echo "$2") <(snapshot "$1") >&2 || true; fail "$3"; }
}
make_root() {
    mkdir -p "$1/etc/cron.d" "$1/var/log" "$1/run"
    printf 'nameserver 192.0.2.53\n' >"$1/etc/resolv.conf"
    printf 'SHELL=/bin/sh\n17 * * * * root run-parts /etc/cron.hourly\n' >"$1/etc/cron.d/other"
}
install() { ./install.sh --root "$1" --binary "$bin" "${@:2}"; }
e=etc/egress-monitor

check_installed() {  # ROOT
    local r=$1 d table
    for d in var/lib/egress-collector var/log/egress-collector etc/egress-collector; do
        [ "$(stat -c %a "$r/$d")" = 750 ] || fail "$d mode $(stat -c %a "$r/$d")"
    done
    [ "$(stat -c '%a %U' "$r/$e/dashboard.token")" = "600 root" ] || fail "dashboard token mode"
    [ "$(head -n 1 "$r/$e/dashboard.token" | wc -c)" -ge 40 ] || fail "short dashboard token"
    [ "$(stat -c '%a %U' "$r/$e/dashboard.key")" = "600 root" ] || fail "dashboard key mode"
    [ "$(stat -c %a "$r/$e/dashboard.pem")" = 644 ] || fail "dashboard certificate mode"
    [ "$(openssl pkey -in "$r/$e/dashboard.key" -pubout)" = "$(openssl x509 -in "$r/$e/dashboard.pem" -noout -pubkey)" ] ||
        fail "dashboard key and certificate do not match"
    grep -q 'IP Address:127.0.0.1' <<<"$(openssl x509 -in "$r/$e/dashboard.pem" -noout -ext subjectAltName)" ||
        fail "127.0.0.1 not in the dashboard's certificate"
    table=$(sed -n '/^\[dashboard\]$/,/^\[/p' "$r/$e/collector.toml")
    for line in 'listen = "127.0.0.1:8444"' 'token_file = "/etc/egress-monitor/dashboard.token"' \
        'tls_cert = "/etc/egress-monitor/dashboard.pem"' 'tls_key = "/etc/egress-monitor/dashboard.key"' \
        'user = "egress-collector"'; do
        grep -qxF "$line" <<<"$table" || fail "[dashboard] lacks '$line'"
    done
    # Every absolute path the config names is installed (files) or under an installed directory.
    while read -r p; do
        [ -e "$r$p" ] || [ -d "$r$(dirname "$p")" ] || fail "collector.toml names $p, not installed"
    done < <(grep -oE '^[a-z_]+ = "/[^"]*"' "$r/$e/collector.toml" | sed 's/.*= "\(.*\)"/\1/')
    grep -qx 'ExecStart=/usr/local/sbin/egress-monitor collect --config /etc/egress-monitor/collector.toml --inventory /etc/egress-monitor/inventory.toml --interval 5m' \
        "$r/etc/systemd/system/egress-monitor-collect.service" || fail "collect unit ExecStart"
    grep -qx 'User=egress-collector' "$r/etc/systemd/system/egress-monitor-collect.service" || fail "collect unit user"
    grep -qx 'ExecStart=/usr/local/sbin/egress-monitor dashboard --config /etc/egress-monitor/collector.toml' \
        "$r/etc/systemd/system/egress-monitor-dashboard.service" || fail "dashboard unit ExecStart"
    grep -qx 'interval=5m' "$r/usr/local/lib/egress-monitor/collector-bg.sh" || fail "collector-bg.sh interval"
    [ "$(stat -c %a "$r/usr/local/lib/egress-monitor/collector-bg.sh")" = 755 ] || fail "collector-bg.sh mode"
    for n in collect dashboard; do
        grep -qx "\* \* \* \* \* root /usr/local/lib/egress-monitor/collector-bg.sh start $n" \
            "$r/etc/cron.d/egress-monitor-collector" || fail "cron entry for $n"
    done
    grep -q '^/var/log/egress-collector/\*.jsonl {' "$r/etc/logrotate.d/egress-collector" || fail "logrotate"
    ! grep -rq '@[A-Z]*@' "$r/etc" "$r/usr/local/lib" || fail "a placeholder left"
    grep -qx 'mode collector' "$r/var/lib/egress-monitor/install/manifest" || fail "mode not recorded"
}

# The units, as systemd would load them (the binary and grep present, the stock units beside).
verify_units() {  # ROOT
    local v=$work/verify out
    rm -rf "$v"
    mkdir -p "$v/etc/systemd/system" "$v/usr/lib/systemd" "$v/usr/local/sbin" "$v/bin"
    cp -r /usr/lib/systemd/system "$v/usr/lib/systemd/"
    cp "$1"/etc/systemd/system/egress-monitor-*.service "$v/etc/systemd/system/"
    cp "$bin" "$v/usr/local/sbin/egress-monitor"
    cp "$(command -v grep)" "$v/bin/grep"
    out=$(systemd-analyze verify --root="$v" --man=no --generators=no \
        egress-monitor-collect.service egress-monitor-dashboard.service 2>&1) || fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify: $out"
}

# The templates through the real binary, on a copy whose paths point into the copy.
check_parse() {  # ROOT
    local c=$work/parse out
    rm -rf "$c"
    cp -a "$1" "$c"
    sed -i "s|= \"/|= \"$c/|" "$c/$e/collector.toml"
    if "$bin" collect --once --config "$c/$e/collector.toml" --inventory "$c/$e/inventory.toml" >"$work/out" 2>&1; then
        fail "collect accepted an inventory without a host"
    fi
    grep -q 'no \[\[host\]\] in the inventory' "$work/out" || fail "collect on the template: $(cat "$work/out")"
    # The example hosts, uncommented: every key as written; their fetches fail (no network).
    sed -E 's/^# (\[\[host\]\]|[a-z_]+ = )/\1/' "$c/$e/inventory.toml" >"$c/hosts.toml"
    [ "$(grep -c '^\[\[host\]\]' "$c/hosts.toml")" = 2 ] || fail "the inventory template has not two example hosts"
    unshare -n bash -c 'ip link set lo up && exec "$@"' _ "$bin" collect --once --config "$c/$e/collector.toml" \
        --inventory "$c/hosts.toml" --timeout 2s --retries 0 >"$work/out" 2>&1 ||
        fail "collect --once refused the template's example hosts: $(cat "$work/out")"
    ! grep -qi 'error' <(grep -v 'warning: \(web1\|db2\) ' "$work/out") || fail "collect: $(cat "$work/out")"
    out=$("$bin" report --config "$c/$e/collector.toml") || fail "report failed"
    grep -q '^  web1 .*\[prod,web\]' <<<"$out" || fail "report lacks web1: $out"
    grep -q '^  db2 ' <<<"$out" || fail "report lacks db2: $out"
    "$bin" report --config "$c/$e/collector.toml" --format json | python3 -c 'import json, sys; json.load(sys.stdin)' ||
        fail "report --format json"
    [ -f "$c/var/lib/egress-collector/history.sqlite" ] || fail "no history where the template says"
    # The dashboard as installed, in a namespace of loopback only (as nobody: the fake root
    # has no egress-collector): its certificate verifies for 127.0.0.1 with no -k, and the
    # token is the password.
    # With only the capabilities its unit leaves it (CapabilityBoundingSet), as root would
    # start it, on a history directory that is the service user's alone (0750).
    sed -i 's/^user = .*/user = "nobody"/' "$c/$e/collector.toml"
    chmod 711 "$work"
    chown -R nobody:nogroup "$c/var/lib/egress-collector"
    local caps
    caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$c/etc/systemd/system/egress-monitor-dashboard.service" |
        tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
    [ -n "$caps" ] || fail "the dashboard unit has no CapabilityBoundingSet"
    unshare -n bash -c '
        ip link set lo up
        setpriv --bounding-set=-all,"$4" --inh-caps=-all -- \
            "$1" dashboard --config "$2/collector.toml" >"$3/dash.log" 2>&1 &
        dash=$!
        trap "kill $dash 2>/dev/null || true; wait $dash 2>/dev/null || true" EXIT
        url=https://127.0.0.1:8444/
        for _ in $(seq 100); do
            curl -s -o /dev/null --cacert "$2/dashboard.pem" "$url" && break
            sleep 0.1
        done
        code=$(curl -s -o /dev/null -w "%{http_code}" --cacert "$2/dashboard.pem" "$url")
        [ "$code" = 401 ] || { echo "without the token: $code"; exit 1; }
        curl -sf --cacert "$2/dashboard.pem" -u "ops:$(head -n 1 "$2/dashboard.token")" "$url" >"$3/page" ||
            { echo "with the token: $(cat "$3/dash.log")"; exit 1; }
        grep -q web1 "$3/page" || { echo "no web1 on the overview"; exit 1; }
    ' _ "$bin" "$c/$e" "$work" "$caps" >"$work/out" 2>&1 || fail "the installed dashboard: $(cat "$work/out")"
}

# 1. A fresh root: round trip, twice = once.
r1=$work/root1
make_root "$r1"
before=$(snapshot "$r1")
install "$r1" --mode collector >"$work/out1"
check_installed "$r1"
fp=$(openssl x509 -in "$r1/$e/dashboard.pem" -noout -fingerprint -sha256 | sed 's/^.*=//')
grep -qF "$fp" "$work/out1" || fail "the dashboard's fingerprint not printed: $(cat "$work/out1")"
grep -q 'inventory.toml' "$work/out1" || fail "no next steps printed"
verify_units "$r1"
check_parse "$r1"
once=$(snapshot "$r1")
install "$r1" --mode collector >/dev/null
same "$r1" "$once" "second collector install changed the tree"
./uninstall.sh --root "$r1" >/dev/null
same "$r1" "$before" "uninstall did not restore root1"
./uninstall.sh --root "$r1" >/dev/null
same "$r1" "$before" "second uninstall changed root1"

# 2. The operator's config, inventory and history: a reinstall (another interval) keeps
#    them, --keep-data keeps them, the next install adopts them, the last uninstall removes them.
r2=$work/root2
make_root "$r2"
before=$(snapshot "$r2")
install "$r2" --mode collector >/dev/null
printf '[[host]]\nname = "h1"\nurl = "https://127.0.0.1:1"\ntoken_file = "/etc/egress-collector/h1.token"\n' \
    >>"$r2/$e/inventory.toml"
sed -i 's/^listen = .*/listen = "0.0.0.0:8444"/' "$r2/$e/collector.toml"
cp "$r2/$e/inventory.toml" "$r2/$e/collector.toml" "$work/"
echo history >"$r2/var/lib/egress-collector/history.sqlite"
install "$r2" --mode collector --interval 30s >/dev/null
cmp -s "$work/inventory.toml" "$r2/$e/inventory.toml" || fail "reinstall rewrote the inventory"
cmp -s "$work/collector.toml" "$r2/$e/collector.toml" || fail "reinstall rewrote collector.toml"
grep -q -- '--interval 30s$' "$r2/etc/systemd/system/egress-monitor-collect.service" || fail "--interval 30s not in the unit"
grep -qx 'interval=30s' "$r2/usr/local/lib/egress-monitor/collector-bg.sh" || fail "--interval 30s not in collector-bg.sh"
./uninstall.sh --root "$r2" --keep-data >/dev/null
cmp -s "$work/inventory.toml" "$r2/$e/inventory.toml" || fail "--keep-data lost the inventory"
grep -qx history "$r2/var/lib/egress-collector/history.sqlite" || fail "--keep-data lost the history"
[ ! -e "$r2/$e/dashboard.key" ] || fail "--keep-data kept the dashboard's key"
install "$r2" --mode collector >/dev/null
cmp -s "$work/inventory.toml" "$r2/$e/inventory.toml" || fail "install after --keep-data rewrote the inventory"
./uninstall.sh --root "$r2" >/dev/null
rm -rf "${r2:?}/var/lib" "$r2/var/log/egress-collector" "$r2/var/log/egress-monitor" "${r2:?}/$e"  # kept by --keep-data, on record no more
same "$r2" "$before" "uninstall did not restore root2"

# 3. Switching: cron -> collector -> agent, the history and the collector's config kept
#    across, then one uninstall restores the original root.
r3=$work/root3
make_root "$r3"
before=$(snapshot "$r3")
install "$r3" >/dev/null
install "$r3" --mode collector >"$work/out"
grep -q 'switching from cron mode to collector mode' "$work/out" || fail "no switch message: $(cat "$work/out")"
[ ! -e "$r3/etc/cron.d/egress-monitor" ] || fail "cron -> collector: cron mode's entry left"
check_installed "$r3"
echo history >"$r3/var/lib/egress-collector/history.sqlite"
echo '# mine' >>"$r3/$e/inventory.toml"
install "$r3" --mode agent >"$work/out"
grep -q 'switching from collector mode to agent mode' "$work/out" || fail "no switch message: $(cat "$work/out")"
[ ! -e "$r3/etc/systemd/system/egress-monitor-collect.service" ] || fail "collector -> agent: unit left"
grep -qx '# mine' "$r3/$e/inventory.toml" || fail "collector -> agent: inventory lost"
install "$r3" --mode collector >/dev/null
grep -qx history "$r3/var/lib/egress-collector/history.sqlite" || fail "agent -> collector: history lost"
grep -qx '# mine' "$r3/$e/inventory.toml" || fail "agent -> collector: inventory rewritten"
./uninstall.sh --root "$r3" >/dev/null
same "$r3" "$before" "uninstall did not restore root3 (switches)"

# 4. The operator's own dashboard key and certificate: used, never replaced or removed; a
#    key alone is refused. Options that do not apply are refused before anything changes.
r4=$work/root4
make_root "$r4"
mkdir -p "$r4/$e"
echo operator-key >"$r4/$e/dashboard.key"
echo operator-cert >"$r4/$e/dashboard.pem"
chmod 0600 "$r4/$e/dashboard.key"
before=$(snapshot "$r4")
install "$r4" --mode collector >/dev/null 2>&1 || true  # the fingerprint of a non-certificate: unknown
grep -qx operator-cert "$r4/$e/dashboard.pem" || fail "operator's certificate replaced"
./uninstall.sh --root "$r4" >/dev/null
same "$r4" "$before" "uninstall did not restore root4 (own credentials)"
rm "$r4/$e/dashboard.pem"
before=$(snapshot "$r4")
if install "$r4" --mode collector >"$work/err" 2>&1; then fail "a dashboard key without its certificate accepted"; fi
grep -q 'go together' "$work/err" || fail "unclear error: $(cat "$work/err")"
./uninstall.sh --root "$r4" >/dev/null
same "$r4" "$before" "a refused install left files in root4"
for bad in "--interval 5" "--interval 0m" "--interval 5d" "--serve 0.0.0.0:8443" "--upstream 192.0.2.1"; do
    # shellcheck disable=SC2086  # the option and its value
    if install "$r4" --mode collector $bad >"$work/err" 2>&1; then fail "collector mode accepted $bad"; fi
    grep -q 'error' "$work/err" || fail "no error for $bad"
done
if install "$r4" --interval 5m >"$work/err" 2>&1; then fail "--interval accepted in cron mode"; fi
same "$r4" "$before" "a refused option changed root4"

# 4b. A collector set up by hand before: /etc/egress-collector (0755, a token and an
#     inventory in it) becomes 0750, what is in it is left alone, the old inventory is named
#     in a warning; uninstall restores it all.
r5=$work/root5
make_root "$r5"
mkdir -p "$r5/etc/egress-collector"
chmod 0755 "$r5/etc/egress-collector"
echo token-of-web1-0123456789 >"$r5/etc/egress-collector/web1.token"
chmod 0600 "$r5/etc/egress-collector/web1.token"
echo '[[host]]' >"$r5/etc/egress-collector/inventory.toml"
before=$(snapshot "$r5")
install "$r5" --mode collector >/dev/null 2>"$work/err"
grep -q '/etc/egress-collector/inventory.toml is not read by the services' "$work/err" || fail "no warning about the old inventory: $(cat "$work/err")"
[ "$(stat -c %a "$r5/etc/egress-collector")" = 750 ] || fail "/etc/egress-collector not 0750"
[ "$(stat -c %a "$r5/etc/egress-collector/web1.token")" = 600 ] || fail "a host's token changed"
./uninstall.sh --root "$r5" >/dev/null
same "$r5" "$before" "uninstall did not restore root5 (a collector set up by hand)"

# 5. Without systemd, for real: collector-bg.sh (as installed) runs collect in the background
#    in a network namespace of loopback only, once, and stops it; no host, no start.
c=$work/bg
mkdir -p "$c/etc" "$c/run" "$c/logs"
sed 's/@INTERVAL@/1h/' packaging/collector-bg.sh >"$c/bg.sh"
chmod 0755 "$c/bg.sh"
cp packaging/inventory.toml "$c/etc/inventory.toml"
printf '[history]\npath = "%s/history.sqlite"\n[alerts]\nstdout = false\n' "$c" >"$c/etc/collector.toml"
bg() { EM_BIN=$bin EM_ETC=$c/etc EM_RUN=$c/run EM_LOGS=$c/logs EM_USER="" "$c/bg.sh" "$@"; }
bg start collect >"$work/out" 2>&1 || fail "collector-bg.sh without a host: $(cat "$work/out")"
[ ! -e "$c/run/egress-monitor-collect.pid" ] || fail "collect started without a host"
printf '[[host]]\nname = "h1"\nurl = "https://127.0.0.1:1"\ntoken_file = "%s/t"\n' "$c" >>"$c/etc/inventory.toml"
unshare -n bash -c 'ip link set lo up && exec "$@"' _ env EM_BIN="$bin" EM_ETC="$c/etc" EM_RUN="$c/run" \
    EM_LOGS="$c/logs" EM_USER="" "$c/bg.sh" start collect >"$work/out" 2>&1 || fail "collector-bg.sh start: $(cat "$work/out")"
bgpid=$(cat "$c/run/egress-monitor-collect.pid")
[ "$(tr '\0' ' ' <"/proc/$bgpid/cmdline")" = "$bin collect --config $c/etc/collector.toml --inventory $c/etc/inventory.toml --interval 1h " ] ||
    fail "collect's command line: $(tr '\0' ' ' <"/proc/$bgpid/cmdline")"
bg status collect | grep -q "running (pid $bgpid)" || fail "status does not see pid $bgpid"
bg start collect >/dev/null
[ "$(cat "$c/run/egress-monitor-collect.pid")" = "$bgpid" ] || fail "a second start started another collect"
[ "$(readlink "/proc/$bgpid/ns/net")" != "$(readlink /proc/self/ns/net)" ] || fail "collect left its namespace"
for _ in $(seq 50); do grep -q 'h1 (https://127.0.0.1:1)' "$c/logs/collect.log" && break; sleep 0.1; done
grep -q 'h1 (https://127.0.0.1:1): cannot read token file' "$c/logs/collect.log" ||
    fail "collect's first cycle not in collect.log: $(cat "$c/logs/collect.log")"
bg stop collect
[ ! -e "/proc/$bgpid" ] || [ "$(awk '{print $3}' "/proc/$bgpid/stat")" = Z ] || fail "collect (pid $bgpid) still runs after stop"
[ ! -e "$c/run/egress-monitor-collect.pid" ] || fail "pidfile left after stop"
if bg status collect >/dev/null; then fail "status says running after stop"; fi
bgpid=""
# Another user's process with the same command line on the recorded pid is not collect:
# neither reported running nor signalled.
setpriv --reuid=65534 --regid=65534 --clear-groups -- perl -e '$0 = shift; sleep 30' "$bin collect" &
impostor=$!
for _ in $(seq 50); do [ "$(tr '\0' ' ' <"/proc/$impostor/cmdline")" = "$bin collect " ] && break; sleep 0.1; done
[ "$(tr '\0' ' ' <"/proc/$impostor/cmdline")" = "$bin collect " ] || { kill "$impostor"; fail "no impostor"; }
echo "$impostor" >"$c/run/egress-monitor-collect.pid"
if bg status collect >/dev/null; then kill "$impostor"; fail "another user's process taken for collect"; fi
bg stop collect
[ -e "/proc/$impostor" ] || fail "stop signalled another user's process"
kill "$impostor"
wait "$impostor" 2>/dev/null || true
echo "install_collector: collector mode installed on 5 fake roots and restored byte for byte (twice = once, config and inventory kept, switches to and from cron and agent mode, own credentials, a collector set up by hand), templates accepted by collect and report, units verified, collect run and stopped by collector-bg.sh"
