#!/bin/bash
# install.sh then uninstall.sh on fake roots must leave each root byte-identical (content,
# modes, owners, symlinks), install twice must equal install once, and the installed files
# must carry the host's upstream resolver (never the local one) and the flow-logging rule.
# The same for agent mode (--mode agent: binary, config, systemd unit, nothing else), and
# switching modes: the other mode is uninstalled first, the collected data kept, and the
# final uninstall still restores the root byte for byte. The endpoint (--serve) in both
# modes: the [serve] table with its user, the unit in cron mode, token and key 0600, the data
# directories 2750; an operator's own credentials kept; adding, dropping and moving it.
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
    local r=$1 dirmode=${2:-750}
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
    [ "$(stat -c %a "$r/var/log/egress-monitor")" = "$dirmode" ] || fail "output dir mode"
}

check_agent_installed() {
    local r=$1 dirmode=${2:-750}
    [ -x "$r/usr/local/sbin/egress-monitor" ] || fail "agent: binary not installed"
    [ -n "${3:-}" ] || cmp -s packaging/egress-monitor-agent.service "$r/etc/systemd/system/egress-monitor-agent.service" ||
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
    [ "$(stat -c %a "$r/var/log/egress-monitor")" = "$dirmode" ] || fail "agent: output dir mode"
    [ "$(stat -c %a "$r/var/lib/egress-monitor")" = "$dirmode" ] || fail "agent: state dir mode"
}
check_serve() {  # root listen mode: what --serve installs
    local r=$1 listen=$2 mode=$3 e=$1/etc/egress-monitor
    local table
    table=$(sed -n '/^\[serve\]$/,/^\[/p' "$e/config.toml")
    [ -n "$table" ] || fail "$mode --serve: no [serve] table"
    for line in "listen = \"$listen\"" 'token_file = "/etc/egress-monitor/serve.token"' \
        'tls_cert = "/etc/egress-monitor/serve.pem"' 'tls_key = "/etc/egress-monitor/serve.key"' \
        'user = "egress-monitor"'; do
        grep -qxF "$line" <<<"$table" || fail "$mode --serve: [serve] lacks '$line'"
    done
    if [ "$mode" = agent ]; then
        grep -q '^in_agent = true ' <<<"$table" || fail "agent --serve: no in_agent = true"
        [ ! -e "$r/etc/systemd/system/egress-monitor-serve.service" ] || fail "agent --serve: a serve unit"
    else
        ! grep -q in_agent <<<"$table" || fail "cron --serve: in_agent set"
        [ "$(stat -c %a "$r/etc/systemd/system/egress-monitor-serve.service")" = 644 ] || fail "cron --serve: unit mode"
        grep -qx 'ExecStart=/usr/local/sbin/egress-monitor serve --config /etc/egress-monitor/config.toml' \
            "$r/etc/systemd/system/egress-monitor-serve.service" || fail "cron --serve: ExecStart"
    fi
    [ "$(stat -c '%a %U' "$e/serve.token")" = "600 root" ] || fail "$mode --serve: token mode"
    [ "$(wc -c <"$e/serve.token")" -ge 40 ] || fail "$mode --serve: short token"
    [ "$(stat -c '%a %U' "$e/serve.key")" = "600 root" ] || fail "$mode --serve: key mode"
    [ "$(stat -c %a "$e/serve.pem")" = 644 ] || fail "$mode --serve: certificate mode"
    # The key and the certificate are a pair, on P-256, naming the listen address if one is given.
    [ "$(openssl pkey -in "$e/serve.key" -pubout)" = "$(openssl x509 -in "$e/serve.pem" -noout -pubkey)" ] ||
        fail "$mode --serve: key and certificate do not match"
    grep -q 'NIST CURVE: P-256' <<<"$(openssl x509 -in "$e/serve.pem" -noout -text)" || fail "$mode --serve: not P-256"
    local ip=${listen%:*}
    ip=${ip#[}
    ip=${ip%]}
    case "$ip" in 0.0.0.0 | ::) ;; *)
        # as openssl prints it: IPv6 groups in upper case, each in full
        ip=$(python3 -c 'import ipaddress, sys; a = ipaddress.ip_address(sys.argv[1])
print(a if a.version == 4 else ":".join(format(int(g, 16), "X") for g in a.exploded.split(":")))' "$ip")
        grep -q "IP Address:$ip\(,\|\$\)" <<<"$(openssl x509 -in "$e/serve.pem" -noout -ext subjectAltName)" ||
            fail "$mode --serve: $ip not in the certificate" ;;
    esac
    grep -q "DNS:$(hostname -s)" <<<"$(openssl x509 -in "$e/serve.pem" -noout -ext subjectAltName)" ||
        fail "$mode --serve: host name not in the certificate"
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
grep -q 'mode must be cron, agent or collector' "$work/err" || fail "unclear --mode error: $(cat "$work/err")"
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

# 9. Cron mode with the endpoint: round trip, twice = once, the collector's instructions.
r9=$work/root9
make_root "$r9"
before=$(snapshot "$r9")
./install.sh --root "$r9" --binary "$bin" --serve 0.0.0.0:8443 >"$work/out"
check_installed "$r9" 2750
check_serve "$r9" 0.0.0.0:8443 cron
cmp -s packaging/egress-monitor-serve.service "$r9/etc/systemd/system/egress-monitor-serve.service" ||
    fail "cron --serve: unit differs from packaging/ (port >= 1024: no CAP_NET_BIND_SERVICE)"
for w in ca_file '\[\[host\]\]' serve.token 'url = "https://'; do
    grep -q "$w" "$work/out" || fail "cron --serve: nothing printed for the collector ($w): $(cat "$work/out")"
done
serve_once=$(snapshot "$r9")
./install.sh --root "$r9" --binary "$bin" --serve 0.0.0.0:8443 >/dev/null
[ "$(snapshot "$r9")" = "$serve_once" ] || { diff <(echo "$serve_once") <(snapshot "$r9") >&2; fail "second cron --serve install changed the tree"; }
./uninstall.sh --root "$r9" >/dev/null
[ "$(snapshot "$r9")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r9") >&2; fail "uninstall did not restore root9 (cron --serve)"; }

# 10. Agent mode with the endpoint on a port below 1024 (IPv6): in_agent, the agent's unit
#     may bind it, no serve unit; round trip.
r10=$work/root10
make_root "$r10"
before=$(snapshot "$r10")
./install.sh --mode agent --root "$r10" --binary "$bin" --serve '[2001:db8::7]:443' >/dev/null
check_agent_installed "$r10" 2750 bind
check_serve "$r10" '[2001:db8::7]:443' agent
for k in CapabilityBoundingSet AmbientCapabilities; do
    grep -q "^$k=.* CAP_NET_BIND_SERVICE\$" "$r10/etc/systemd/system/egress-monitor-agent.service" ||
        fail "agent --serve :443: $k without CAP_NET_BIND_SERVICE"
done
[ "$(grep -v CAP_NET_BIND_SERVICE "$r10/etc/systemd/system/egress-monitor-agent.service")" = \
    "$(grep -v '^\(CapabilityBoundingSet\|AmbientCapabilities\)=' packaging/egress-monitor-agent.service)" ] ||
    fail "agent --serve :443: the unit changed beyond its capabilities"
once=$(snapshot "$r10")
./install.sh --mode agent --root "$r10" --binary "$bin" --serve '[2001:db8::7]:443' >/dev/null
[ "$(snapshot "$r10")" = "$once" ] || { diff <(echo "$once") <(snapshot "$r10") >&2; fail "second agent --serve install changed the tree"; }
./uninstall.sh --root "$r10" --keep-data >/dev/null
[ ! -e "$r10/etc/egress-monitor/serve.token" ] || fail "uninstall --keep-data left the token"
[ "$(stat -c %a "$r10/var/log/egress-monitor")" = 750 ] || fail "uninstall --keep-data left the setgid bit"
./uninstall.sh --root "$r10" >/dev/null  # nothing to do: the manifest went
rm -rf "$r10/var/lib" "$r10/var/log/egress-monitor"  # kept by --keep-data
[ "$(snapshot "$r10")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r10") >&2; fail "uninstall did not restore root10 (agent --serve)"; }

# 11. The operator's own token, key and certificate: used, never replaced, never removed.
r11=$work/root11
make_root "$r11"
mkdir -p "$r11/etc/egress-monitor"
echo "operator-token-0123456789" >"$r11/etc/egress-monitor/serve.token"
echo "operator-key" >"$r11/etc/egress-monitor/serve.key"
echo "operator-cert" >"$r11/etc/egress-monitor/serve.pem"
chmod 0600 "$r11/etc/egress-monitor/serve.token"  # what the endpoint accepts
chmod 0640 "$r11/etc/egress-monitor/serve.key"
before=$(snapshot "$r11")
./install.sh --root "$r11" --binary "$bin" --serve 192.0.2.1:8443 >"$work/out"
grep -qx operator-token-0123456789 "$r11/etc/egress-monitor/serve.token" || fail "operator's token replaced"
grep -qx operator-cert "$r11/etc/egress-monitor/serve.pem" || fail "operator's certificate replaced"
grep -q 'your own certificate' "$work/out" || fail "no word about the operator's certificate"
./uninstall.sh --root "$r11" >/dev/null
[ "$(snapshot "$r11")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r11") >&2; fail "uninstall did not restore root11 (own credentials)"; }
rm "$r11/etc/egress-monitor/serve.pem"
if ./install.sh --root "$r11" --binary "$bin" --serve 192.0.2.1:8443 >"$work/err" 2>&1; then fail "a key without its certificate accepted"; fi
grep -q 'go together' "$work/err" || fail "unclear error for a key without a certificate: $(cat "$work/err")"
./uninstall.sh --root "$r11" >/dev/null

# 12. The endpoint added, dropped, moved: each run reverts the install first (data kept);
#     the token and, at the same address, the key and certificate are carried over.
r12=$work/root12
make_root "$r12"
before=$(snapshot "$r12")
./install.sh --root "$r12" --binary "$bin" >/dev/null
plain=$(snapshot_files "$r12")
add_data "$r12"
./install.sh --root "$r12" --binary "$bin" --serve 198.51.100.5:8443 >"$work/out"
grep -q 'changing the endpoint (--serve none -> 198.51.100.5:8443)' "$work/out" || fail "no change message: $(cat "$work/out")"
check_serve "$r12" 198.51.100.5:8443 cron
check_data "$r12" "+serve"
cp -a "$r12/etc/egress-monitor" "$work/cred12"
./install.sh --mode agent --root "$r12" --binary "$bin" --serve 198.51.100.5:8443 >/dev/null
check_serve "$r12" 198.51.100.5:8443 agent
for f in serve.token serve.key serve.pem; do
    cmp -s "$work/cred12/$f" "$r12/etc/egress-monitor/$f" || fail "cron -> agent at the same address: $f not carried over"
done
./install.sh --mode agent --root "$r12" --binary "$bin" --serve 198.51.100.6:8443 >/dev/null
check_serve "$r12" 198.51.100.6:8443 agent
cmp -s "$work/cred12/serve.token" "$r12/etc/egress-monitor/serve.token" || fail "moved endpoint: token not carried over"
! cmp -s "$work/cred12/serve.pem" "$r12/etc/egress-monitor/serve.pem" || fail "moved endpoint: certificate for the old address kept"
./install.sh --root "$r12" --binary "$bin" >/dev/null
check_data "$r12" "-serve"
for f in serve.token serve.key serve.pem; do [ ! -e "$r12/etc/egress-monitor/$f" ] || fail "endpoint dropped: $f left"; done
! grep -q '^\[serve\]' "$r12/etc/egress-monitor/config.toml" || fail "endpoint dropped: [serve] left"
[ ! -e "$r12/etc/systemd" ] || fail "endpoint dropped: /etc/systemd left"
[ "$(snapshot_files "$r12")" = "$plain" ] || { diff <(echo "$plain") <(snapshot_files "$r12") >&2; fail "endpoint dropped: not a plain cron install"; }
./uninstall.sh --root "$r12" >/dev/null
[ "$(snapshot "$r12")" = "$before" ] || { diff <(echo "$before") <(snapshot "$r12") >&2; fail "uninstall did not restore root12"; }

# 13. Listen addresses serve would refuse are refused before anything changes.
for bad in localhost:8443 0.0.0.0:0 0.0.0.0:70000 ::1:8443 0.0.0.0 '[::1]8443' 192.0.2.1:08443; do
    if ./install.sh --root "$r12" --binary "$bin" --serve "$bad" >"$work/err" 2>&1; then fail "--serve $bad accepted"; fi
    grep -q -- '--serve wants' "$work/err" || fail "unclear error for --serve $bad: $(cat "$work/err")"
done
[ "$(snapshot "$r12")" = "$before" ] || fail "a refused --serve changed root12"
echo "install_roundtrip: 12 fake roots (cron, agent, both switches, existing data directories, the endpoint in both modes, own credentials, endpoint changes) installed and restored byte for byte"
