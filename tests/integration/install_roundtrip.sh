#!/bin/bash
# install.sh then uninstall.sh on fake roots must leave each root byte-identical (content,
# modes, owners, symlinks), install twice must equal install once, and the installed files
# must carry the host's upstream resolver (never the local one) and the flow-logging rule.
# The same for agent mode (--mode agent: binary, config, systemd unit, nothing else), and
# switching modes: the other mode is uninstalled first, the collected data kept, and the
# final uninstall still restores the root byte for byte.
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

check_agent_installed() {
    local r=$1
    [ -x "$r/usr/local/sbin/egress-monitor" ] || fail "agent: binary not installed"
    cmp -s packaging/egress-monitor-agent.service "$r/etc/systemd/system/egress-monitor-agent.service" ||
        fail "agent: unit not installed"
    [ "$(stat -c %a "$r/etc/systemd/system/egress-monitor-agent.service")" = 644 ] || fail "agent: unit mode"
    grep -qx 'ExecStart=/usr/local/sbin/egress-monitor agent --config /etc/egress-monitor/config.toml' \
        "$r/etc/systemd/system/egress-monitor-agent.service" || fail "agent: ExecStart"
    "$bin" consolidate --config "$r/etc/egress-monitor/config.toml" --dnsmasq-log /nonexistent \
        --kernel-log none --state-dir "$work/s" --output-dir "$work/o" || fail "agent: installed config rejected"
    grep -qx 'mode agent' "$r/var/lib/egress-monitor/install/manifest" || fail "agent: mode not recorded"
    for f in /etc/dnsmasq.d/egress-monitor.conf /etc/cron.d/egress-monitor /etc/logrotate.d/egress-monitor-dnsmasq \
        /etc/egress-monitor/egress-log.nft /usr/local/lib/egress-monitor /var/log/dnsmasq \
        /etc/systemd/resolved.conf.d; do
        [ ! -e "$r$f" ] || fail "agent mode installed cron-mode $f"
    done
    [ "$(stat -c %a "$r/var/log/egress-monitor")" = 750 ] || fail "agent: output dir mode"
    [ "$(stat -c %a "$r/var/lib/egress-monitor")" = 750 ] || fail "agent: state dir mode"
}
add_data() {  # what a running install would have collected
    echo "192.0.2.10 3 2026-11-22T11:31:02Z" >"$1/var/log/egress-monitor/unique-ips.log"
    echo "ledger" >"$1/var/lib/egress-monitor/ledger.sqlite"
}
check_data() {
    grep -qx '192.0.2.10 3 2026-11-22T11:31:02Z' "$1/var/log/egress-monitor/unique-ips.log" ||
        fail "$2: output data lost"
    grep -qx ledger "$1/var/lib/egress-monitor/ledger.sqlite" || fail "$2: state data lost"
}
# A snapshot without the manifest (its line order records history) and the data files.
snapshot_files() { snapshot "$1" | grep -vE '\./var/lib/egress-monitor/(install|ledger)|unique-ips\.log'; }

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

# 4. Agent mode on a plain root: files only, round trip byte for byte, twice = once.
r4=$work/root4
make_root "$r4"
before=$(snapshot "$r4")
./install.sh --mode agent --root "$r4" --binary "$bin" >/dev/null
check_agent_installed "$r4"
cmp -s "$r4/etc/resolv.conf" "$work/root1/etc/resolv.conf" || fail "agent mode changed resolv.conf"
agent_once=$(snapshot "$r4")
./install.sh --mode agent --root "$r4" --binary "$bin" >/dev/null
[ "$(snapshot "$r4")" = "$agent_once" ] || { diff <(echo "$agent_once") <(snapshot "$r4") >&2; fail "second agent install changed the tree"; }
agent_files=$(snapshot_files "$r4")
./uninstall.sh --root "$r4" >/dev/null
[ "$(snapshot "$r4")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r4") >&2; fail "uninstall did not restore root4 (agent)"; }
./uninstall.sh --root "$r4" >/dev/null
[ "$(snapshot "$r4")" = "$before" ] || fail "second uninstall changed root4"
if ./install.sh --mode daemon --root "$r4" --binary "$bin" >"$work/err" 2>&1; then fail "--mode daemon accepted"; fi
grep -q 'mode must be cron or agent' "$work/err" || fail "unclear --mode error: $(cat "$work/err")"
[ "$(snapshot "$r4")" = "$before" ] || fail "a rejected --mode changed root4"

# 5. Agent over cron: cron mode reverted (resolv.conf restored), data kept, the result the
#    same files as a fresh agent install; uninstall restores the original root.
r5=$work/root5
make_root "$r5"
before=$(snapshot "$r5")
./install.sh --root "$r5" --binary "$bin" >/dev/null
check_installed "$r5"
add_data "$r5"
./install.sh --mode agent --root "$r5" --binary "$bin" >"$work/out"
grep -q 'switching from cron mode to agent mode' "$work/out" || fail "no switch message: $(cat "$work/out")"
check_agent_installed "$r5"
check_data "$r5" "cron -> agent"
grep -qx 'nameserver 192.0.2.53' "$r5/etc/resolv.conf" || fail "cron -> agent: resolv.conf not restored"
[ "$(snapshot_files "$r5")" = "$agent_files" ] ||
    { diff <(echo "$agent_files") <(snapshot_files "$r5") >&2; fail "agent over cron differs from a fresh agent install"; }
switched=$(snapshot "$r5")
./install.sh --mode agent --root "$r5" --binary "$bin" >/dev/null
[ "$(snapshot "$r5")" = "$switched" ] || fail "agent install after the switch changed the tree"
./uninstall.sh --root "$r5" >/dev/null
[ "$(snapshot "$r5")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r5") >&2; fail "uninstall did not restore root5 (cron -> agent)"; }

# 6. Cron over agent: the unit goes, data kept, cron mode as fresh; round trip.
r6=$work/root6
make_root "$r6"
before=$(snapshot "$r6")
./install.sh --mode agent --root "$r6" --binary "$bin" >/dev/null
add_data "$r6"
./install.sh --mode cron --root "$r6" --binary "$bin" >"$work/out"
grep -q 'switching from agent mode to cron mode' "$work/out" || fail "no switch message: $(cat "$work/out")"
check_installed "$r6"
check_data "$r6" "agent -> cron"
[ ! -e "$r6/etc/systemd/system/egress-monitor-agent.service" ] || fail "agent -> cron: unit left"
[ ! -e "$r6/etc/systemd" ] || fail "agent -> cron: /etc/systemd left"
grep -qx 'mode cron' "$r6/var/lib/egress-monitor/install/manifest" || fail "agent -> cron: mode not recorded"
switched=$(snapshot "$r6")
./install.sh --root "$r6" --binary "$bin" >/dev/null
[ "$(snapshot "$r6")" = "$switched" ] || fail "cron install after the switch changed the tree"
./uninstall.sh --root "$r6" >/dev/null
[ "$(snapshot "$r6")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r6") >&2; fail "uninstall did not restore root6 (agent -> cron)"; }

# 7. A manifest from before modes existed (no "mode" line) counts as cron mode.
r7=$work/root7
make_root "$r7"
before=$(snapshot "$r7")
./install.sh --root "$r7" --binary "$bin" >/dev/null
sed -i '/^mode /d' "$r7/var/lib/egress-monitor/install/manifest"
./install.sh --mode agent --root "$r7" --binary "$bin" >"$work/out"
grep -q 'switching from cron mode to agent mode' "$work/out" || fail "old manifest not taken as cron mode"
check_agent_installed "$r7"
./uninstall.sh --root "$r7" >/dev/null
[ "$(snapshot "$r7")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r7") >&2; fail "uninstall did not restore root7"; }
# 8. Data directories that were there before install (mode 0755, a file in one): 0750 while
#    installed, their original modes back after uninstall (--keep-data or not).
r8=$work/root8
make_root "$r8"
mkdir -p "$r8/var/log/egress-monitor" "$r8/var/lib"
chmod 0755 "$r8/var/log/egress-monitor"
echo "old" >"$r8/var/log/egress-monitor/unique-ips.log"
chmod 0600 "$r8/var/log/egress-monitor/unique-ips.log"
before=$(snapshot "$r8")
./install.sh --mode agent --root "$r8" --binary "$bin" >/dev/null
[ "$(stat -c %a "$r8/var/log/egress-monitor")" = 750 ] || fail "root8: output dir mode while installed"
./uninstall.sh --root "$r8" --keep-data >/dev/null
rmdir "$r8/var/lib/egress-monitor"  # made by install.sh, kept (empty) by --keep-data
[ "$(snapshot "$r8")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r8") >&2; fail "uninstall --keep-data did not restore root8"; }
./install.sh --root "$r8" --binary "$bin" >/dev/null
./uninstall.sh --root "$r8" >/dev/null
[ "$(snapshot "$r8")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r8") >&2; fail "uninstall did not restore root8"; }
echo "install_roundtrip: 8 fake roots (cron, agent, both switches, existing data directories) installed and restored byte for byte"
