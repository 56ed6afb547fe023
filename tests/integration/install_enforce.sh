#!/bin/bash
# install.sh --enforce on fake roots (cron and agent mode): refused without the operator's
# enforce.toml or with one `enforce --check` refuses, before anything changes; the unit (clean
# under `systemd-analyze verify`) and the rules' script installed, the config never touched,
# twice = once, dropping --enforce removes them, uninstall byte for byte. Then the rules for
# real, in a network namespace of its own: enforce-firewall.sh waits for a running enforce's
# queues, builds its chains from enforce --check's summary (the documented rules), removes
# them on a clean stop and keeps them after a crash (fail closed), and `down` leaves the
# namespace's tables as they were.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${EGRESS_MONITOR:-build/egress-monitor}")
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (network namespace)" >&2; exit 77; }
work=$(mktemp -d)
ns="emenf$$"
epid=""
cleanup() {
    [ -z "$epid" ] || kill "$epid" 2>/dev/null || true
    [ -z "$epid" ] || wait "$epid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
snapshot() {
    (cd "$1" && find . -printf '%p %y %m %u:%g %l\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
fail() { echo "FAIL: $*" >&2; exit 1; }
same() { [ "$(snapshot "$1")" = "$2" ] || { diff <(echo "$2") <(snapshot "$1") >&2 || true; fail "$3"; }; }
make_root() {
    mkdir -p "$1/etc/cron.d" "$1/var/log" "$1/run"
    printf 'nameserver 192.0.2.53\n' >"$1/etc/resolv.conf"
}
cat >"$work/enforce.toml" <<'EOF'
inboundDNSQueue = { ipv4 = 1, ipv6 = 10 }
[[filters]]
name = "web"
dnsQueue = { ipv4 = 1000, ipv6 = 1001 }
trafficQueue = { ipv4 = 1002, ipv6 = 1003 }
allowedHostnames = ["example.test"]
allowAnswersFor = "10s"
EOF
unit=etc/systemd/system/egress-monitor-enforce.service
script=usr/local/lib/egress-monitor/enforce-firewall.sh

# 1. Refused without a config, or with a bad one; nothing changed.
r=$work/root1
make_root "$r"
before=$(snapshot "$r")
if ./install.sh --root "$r" --binary "$bin" --enforce >"$work/err" 2>&1; then fail "--enforce without enforce.toml accepted"; fi
grep -q 'needs your allowlist' "$work/err" || fail "unclear error: $(cat "$work/err")"
same "$r" "$before" "a refused --enforce changed the root"
mkdir -p "$r/etc/egress-monitor"
echo 'inboundDNSQueue = 1' >"$r/etc/egress-monitor/enforce.toml"
before=$(snapshot "$r")
if ./install.sh --root "$r" --binary "$bin" --enforce >"$work/err" 2>&1; then fail "a bad enforce.toml accepted"; fi
grep -q 'refused by egress-monitor enforce --check' "$work/err" || fail "unclear error: $(cat "$work/err")"
same "$r" "$before" "a refused enforce.toml changed the root"
if ./install.sh --root "$r" --binary "$bin" --mode collector --enforce >/dev/null 2>&1; then fail "--enforce in collector mode accepted"; fi

# 2. Cron and agent mode: installed, verified, twice = once, dropped, round trip.
for mode in cron agent; do
    r=$work/root-$mode
    make_root "$r"
    mkdir -p "$r/etc/egress-monitor"
    cp "$work/enforce.toml" "$r/etc/egress-monitor/enforce.toml"
    before=$(snapshot "$r")
    ./install.sh --root "$r" --binary "$bin" --mode "$mode" --enforce >"$work/out" 2>/dev/null
    grep -q 'enforce is installed, not started' "$work/out" || fail "$mode: no word on starting enforce"
    cmp -s packaging/egress-monitor-enforce.service "$r/$unit" || fail "$mode: unit not installed"
    [ "$(stat -c %a "$r/$script")" = 755 ] || fail "$mode: rules script mode"
    cmp -s "$work/enforce.toml" "$r/etc/egress-monitor/enforce.toml" || fail "$mode: enforce.toml touched"
    grep -qx 'enforce on' "$r/var/lib/egress-monitor/install/manifest" || fail "$mode: not recorded"
    v=$work/verify
    rm -rf "$v"
    mkdir -p "$v/etc/systemd/system" "$v/usr/lib/systemd" "$v/usr/local/sbin" "$v/usr/local/lib/egress-monitor"
    cp -r /usr/lib/systemd/system "$v/usr/lib/systemd/"
    cp "$r/$unit" "$v/$unit"
    cp "$bin" "$v/usr/local/sbin/egress-monitor"
    cp "$r/$script" "$v/$script"
    out=$(systemd-analyze verify --root="$v" --man=no --generators=no egress-monitor-enforce.service 2>&1) ||
        fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify: $out"
    once=$(snapshot "$r")
    ./install.sh --root "$r" --binary "$bin" --mode "$mode" --enforce >/dev/null 2>&1
    same "$r" "$once" "$mode: second --enforce install changed the tree"
    ./install.sh --root "$r" --binary "$bin" --mode "$mode" >"$work/out" 2>/dev/null
    grep -q "removing enforce's unit" "$work/out" || fail "$mode: no message on dropping --enforce"
    if [ -e "$r/$unit" ] || [ -e "$r/$script" ]; then fail "$mode: dropping --enforce left its files"; fi
    ! grep -qx 'enforce on' "$r/var/lib/egress-monitor/install/manifest" || fail "$mode: still recorded"
    ./install.sh --root "$r" --binary "$bin" --mode "$mode" --enforce >/dev/null 2>&1
    ./uninstall.sh --root "$r" >/dev/null
    same "$r" "$before" "$mode --enforce: uninstall did not restore the root"
done

# 3. The rules for real, in a namespace of their own, against a running enforce.
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
fw() { ip netns exec "$ns" env EM_BIN="$bin" EM_ENFORCE_WAIT=2 ${result:+SERVICE_RESULT=$result} sh packaging/enforce-firewall.sh "$@"; }
rules() { ip netns exec "$ns" iptables -S; ip netns exec "$ns" ip6tables -S; }
result=""
empty=$(rules)
if fw up "$work/enforce.toml" >"$work/err" 2>&1; then fail "rules loaded with no enforce running"; fi
grep -q 'has not bound queue' "$work/err" || fail "unclear error: $(cat "$work/err")"
[ "$(rules)" = "$empty" ] || fail "rules loaded with no enforce running"
ip netns exec "$ns" "$bin" enforce --config "$work/enforce.toml" --log '' 2>"$work/enforce.log" &
epid=$!
fw up "$work/enforce.toml" >/dev/null || fail "enforce-firewall.sh up: $(cat "$work/enforce.log")"
v4=$(ip netns exec "$ns" iptables -S)
for want in '-A INPUT -j EGRESS_ENFORCE_IN' '-A OUTPUT -j EGRESS_ENFORCE_OUT' \
    '-A EGRESS_ENFORCE_IN -i lo -j RETURN' \
    '-A EGRESS_ENFORCE_IN -p udp -m udp --sport 53 -j NFQUEUE --queue-num 1' \
    '-A EGRESS_ENFORCE_IN -p tcp -m tcp --sport 53 -j NFQUEUE --queue-num 1' \
    '-A EGRESS_ENFORCE_OUT -o lo -j RETURN' \
    '-A EGRESS_ENFORCE_OUT -p udp -m udp --dport 53 -j NFQUEUE --queue-num 1000' \
    '-A EGRESS_ENFORCE_OUT -p tcp -m tcp --dport 53 -j NFQUEUE --queue-num 1000' \
    '-A EGRESS_ENFORCE_OUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num 1002'; do
    grep -qxF -- "$want" <<<"$v4" || fail "iptables lacks '$want': $v4"
done
grep -qxF -- '-A EGRESS_ENFORCE_OUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num 1003' <<<"$(ip netns exec "$ns" ip6tables -S)" ||
    fail "ip6tables lacks the IPv6 traffic queue"
fw up "$work/enforce.toml" >/dev/null  # again: the same rules, not twice
[ "$(ip netns exec "$ns" iptables -S)" = "$v4" ] || fail "a second up changed the rules"
result=signal fw stopped
[ "$(ip netns exec "$ns" iptables -S)" = "$v4" ] || fail "the rules went after a crash (not fail closed)"
result=success fw stopped
[ "$(rules)" = "$empty" ] || fail "a clean stop left rules: $(rules)"
fw up "$work/enforce.toml" >/dev/null
# A resolver on the host (dnsmasq in cron mode) still answers its clients over loopback.
ip netns exec "$ns" dnsmasq --keep-in-foreground --no-resolv --no-hosts --listen-address=127.0.0.1 \
    --bind-interfaces --port=53 --address=/local.test/192.0.2.77 --pid-file= --user=root \
    2>"$work/dnsmasq.log" &
dpid=$!
ans=""
for _ in $(seq 50); do
    ans=$(ip netns exec "$ns" dig +short +time=1 +tries=1 @127.0.0.1 local.test A 2>/dev/null) && [ -n "$ans" ] && break
    sleep 0.1
done
kill "$dpid"
wait "$dpid" 2>/dev/null || true
[ "$ans" = 192.0.2.77 ] || fail "a local resolver's answer did not pass the rules: '$ans' $(cat "$work/dnsmasq.log")"
fw down
[ "$(rules)" = "$empty" ] || fail "down left rules: $(rules)"
# A start failing half-way (ip6tables refusing) leaves nothing behind, IPv4 included.
mkdir "$work/badbin"
printf '#!/bin/sh\necho "ip6tables: refused for the test" >&2\nexit 1\n' >"$work/badbin/ip6tables"
chmod 755 "$work/badbin/ip6tables"
if ip netns exec "$ns" env PATH="$work/badbin:$PATH" EM_BIN="$bin" EM_ENFORCE_WAIT=2 \
    sh packaging/enforce-firewall.sh up "$work/enforce.toml" >"$work/err" 2>&1; then
    fail "up succeeded with ip6tables failing"
fi
[ "$(rules)" = "$empty" ] || fail "a failed up left rules: $(rules)"
kill "$epid"
wait "$epid" || true
epid=""
echo "install_enforce: --enforce refused without a good enforce.toml, installed in cron and agent mode (unit verified, twice = once, dropped, restored byte for byte); its rules loaded once enforce's queues are bound, a local resolver answering through them, kept after a crash, removed on a clean stop and after a failed start"
