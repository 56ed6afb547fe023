#!/bin/bash
# install.sh then uninstall.sh on fake roots must leave each root byte-identical (content,
# modes, owners, symlinks), install twice must equal install once, and the installed files
# must carry the host's upstream resolver (never the local one) and the flow-logging rule.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${EGRESS_MONITOR:-build/egress-monitor}
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

snapshot() {  # every path with type, mode, owner, link target and content hash
    (cd "$1" && find . -printf '%p %y %m %u:%g %l\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
fail() { echo "FAIL: $*" >&2; exit 1; }

make_root() {  # a small Debian-like tree
    local r=$1
    mkdir -p "$r/etc/cron.d" "$r/etc/dnsmasq.d" "$r/var/log" "$r/run"
    printf 'domain example.test\nnameserver 192.0.2.53\nnameserver 127.0.0.1\nnameserver 2001:db8::53\n' >"$r/etc/resolv.conf"
    chmod 0644 "$r/etc/resolv.conf"
    printf '# stock dnsmasq.conf\n#port=5353\n' >"$r/etc/dnsmasq.conf"
    printf 'SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n' >"$r/etc/cron.d/other"
}

check_installed() {
    local r=$1
    grep -qx 'server=192.0.2.53' "$r/etc/dnsmasq.d/egress-monitor.conf" || fail "upstream missing"
    grep -qx 'server=2001:db8::53' "$r/etc/dnsmasq.d/egress-monitor.conf" || fail "IPv6 upstream missing"
    ! grep -q 'server=127' "$r/etc/dnsmasq.d/egress-monitor.conf" || fail "dnsmasq would forward to itself"
    grep -qx 'log-queries=extra' "$r/etc/dnsmasq.d/egress-monitor.conf" || fail "log-queries=extra missing"
    grep -qx 'listen-address=127.0.0.1' "$r/etc/dnsmasq.d/egress-monitor.conf" || fail "listen-address missing"
    grep -qx 'nameserver 127.0.0.1' "$r/etc/resolv.conf" || fail "resolv.conf not pointed at dnsmasq"
    grep -q 'ct mark and 0x10 == 0 ct mark set ct mark or 0x10 log prefix "EGRESS: "' \
        "$r/etc/egress-monitor/egress-log.nft" || fail "nft rule without the once-per-flow mark"
    grep -q '^\* \* \* \* \* root /usr/local/lib/egress-monitor/consolidate.sh$' "$r/etc/cron.d/egress-monitor" ||
        fail "cron entry missing"
    [ -x "$r/usr/local/sbin/egress-monitor" ] || fail "binary not installed"
    grep -qx 'kernel_log = "kmsg"' "$r/etc/egress-monitor/config.toml" || fail "kernel_log not detected"
    "$bin" consolidate --config "$r/etc/egress-monitor/config.toml" --dnsmasq-log /nonexistent \
        --kernel-log none --state-dir "$work/s" --output-dir "$work/o" || fail "installed config rejected"
    [ "$(stat -c %a "$r/var/log/egress-monitor")" = 750 ] || fail "output dir mode"
}

# 1. A plain resolv.conf.
r1=$work/root1
make_root "$r1"
before=$(snapshot "$r1")
./install.sh --root "$r1" --binary "$bin" >/dev/null
check_installed "$r1"
once=$(snapshot "$r1")
./install.sh --root "$r1" --binary "$bin" >/dev/null
[ "$(snapshot "$r1")" = "$once" ] || fail "second install changed the tree"
./uninstall.sh --root "$r1" >/dev/null
[ "$(snapshot "$r1")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r1") >&2; fail "uninstall did not restore root1"; }
./uninstall.sh --root "$r1" >/dev/null  # idempotent
[ "$(snapshot "$r1")" = "$before" ] || fail "second uninstall changed root1"

# 2. resolv.conf as a symlink (resolvconf-style), restored as the same symlink.
r2=$work/root2
make_root "$r2"
mkdir -p "$r2/run/resolvconf"
mv "$r2/etc/resolv.conf" "$r2/run/resolvconf/resolv.conf"
ln -s ../run/resolvconf/resolv.conf "$r2/etc/resolv.conf"
before=$(snapshot "$r2")
./install.sh --root "$r2" --binary "$bin" >/dev/null
check_installed "$r2"
[ ! -L "$r2/etc/resolv.conf" ] || fail "resolv.conf still a symlink"
grep -qx 'nameserver 192.0.2.53' "$r2/run/resolvconf/resolv.conf" || fail "symlink target was modified"
./uninstall.sh --root "$r2" >/dev/null
[ "$(snapshot "$r2")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r2") >&2; fail "uninstall did not restore root2"; }
[ -L "$r2/etc/resolv.conf" ] || fail "symlink not restored"

# 3. No upstream resolver at all: a clear error, and the tree reverts cleanly.
r3=$work/root3
make_root "$r3"
printf 'nameserver 127.0.0.1\n' >"$r3/etc/resolv.conf"
before=$(snapshot "$r3")
if ./install.sh --root "$r3" --binary "$bin" >"$work/err" 2>&1; then fail "install without an upstream succeeded"; fi
grep -q 'no upstream resolver' "$work/err" || fail "unclear error: $(cat "$work/err")"
./uninstall.sh --root "$r3" >/dev/null
[ "$(snapshot "$r3")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r3") >&2; fail "uninstall did not restore root3"; }
echo "install_roundtrip: 3 fake roots installed and restored byte for byte"
