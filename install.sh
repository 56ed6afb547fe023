#!/bin/bash
# install.sh — installs egress-monitor in cron mode on this Debian host and starts it:
#   - dependencies from Debian's archive (scripts/deps.sh run), a Release build,
#     /usr/local/sbin/egress-monitor and its cron wrapper;
#   - dnsmasq on 127.0.0.1:53 logging every query (log-queries=extra) to
#     /var/log/dnsmasq/dnsmasq.log, forwarding to the resolvers the host used until now;
#   - the system resolver pointed at it (a systemd-resolved drop-in, or /etc/resolv.conf);
#   - logrotate for the dnsmasq log; an nftables table (iptables where nft is missing) that
#     logs each new outbound non-loopback flow once with the prefix "EGRESS: ";
#   - /etc/egress-monitor/config.toml and a cron entry running consolidate every minute.
# Every file it creates or changes is recorded (originals kept byte for byte) under
# /var/lib/egress-monitor/install so that uninstall.sh can revert all of it. Idempotent.
#
#   sudo ./install.sh [--root DIR] [--binary PATH] [--upstream IP]...
#     --root DIR     act on a fake root: write files only (no packages, build, services,
#                    firewall); for tests
#     --binary PATH  install this binary instead of building one
#     --upstream IP  upstream resolver for dnsmasq (repeatable); default: the host's own
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/scripts/install-lib.sh"

root="" binary="" upstreams=()
while [ $# -gt 0 ]; do
    case "$1" in
    --root) root=$(realpath -m "$2"); shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --upstream) upstreams+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
real=1
[ -n "$root" ] && real=0
[ "$real" -eq 0 ] || [ "$(id -u)" -eq 0 ] || die "run as root (or with --root DIR for a fake root)"
manifest_init

if [ "$real" -eq 1 ]; then
    say "installing dependencies"
    "$here/scripts/deps.sh" run
fi
if [ -z "$binary" ]; then
    if [ "$real" -eq 1 ] || [ ! -x "$here/build/egress-monitor" ]; then
        say "building"
        cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$here/build" -j"$(nproc)" --target egress-monitor >/dev/null
    fi
    binary="$here/build/egress-monitor"
fi
[ -x "$binary" ] || die "no binary at $binary"

say "installing files under ${root:-/}"
for d in /etc/egress-monitor /usr/local/lib/egress-monitor /var/lib/egress-monitor \
    /var/log/egress-monitor /var/log/dnsmasq /etc/dnsmasq.d /etc/cron.d /etc/logrotate.d \
    /usr/local/sbin; do
    ensure_dir "$d"
done
chmod 0750 "$root/var/lib/egress-monitor" "$root/var/log/egress-monitor"
install_file "$binary" /usr/local/sbin/egress-monitor 0755
install_file "$here/packaging/consolidate.sh" /usr/local/lib/egress-monitor/consolidate.sh 0755
install_file "$here/packaging/load-firewall.sh" /usr/local/lib/egress-monitor/load-firewall.sh 0755
install_file "$here/packaging/egress-log.nft" /etc/egress-monitor/egress-log.nft 0644
install_file "$here/packaging/logrotate.conf" /etc/logrotate.d/egress-monitor-dnsmasq 0644
install_file "$here/packaging/cron" /etc/cron.d/egress-monitor 0644

# Where the kernel's LOG lines can be read back.
if [ -S "$root/run/systemd/journal/socket" ]; then
    kernel_log=journald
elif [ -f "$root/var/log/kern.log" ]; then
    kernel_log=/var/log/kern.log
else
    kernel_log=kmsg
    warn "no journald and no /var/log/kern.log: kernel lines are read from /dev/kmsg, whose" \
        "ring holds only a few hundred lines between two runs"
fi
sed "s|@KERNEL_LOG@|$kernel_log|" "$here/packaging/config.toml.in" | write_file /etc/egress-monitor/config.toml 0644

# dnsmasq's upstreams: what the host resolved through before us (never ourselves).
resolved=0
if [ -d "$root/run/systemd/system" ] && [ -e "$root/run/systemd/resolve/resolv.conf" ]; then
    resolved=1
fi
if [ ${#upstreams[@]} -eq 0 ]; then
    src=$(original_of /etc/resolv.conf)
    [ "$resolved" -eq 1 ] && src="$root/run/systemd/resolve/resolv.conf"
    mapfile -t upstreams < <(upstreams_from "$src")
fi
[ ${#upstreams[@]} -gt 0 ] || die "no upstream resolver found in /etc/resolv.conf; pass --upstream IP"
servers=$(printf 'server=%s\n' "${upstreams[@]}")
awk -v s="$servers" '{ if ($0 == "@SERVERS@") print s; else print }' "$here/packaging/dnsmasq.conf.in" |
    write_file /etc/dnsmasq.d/egress-monitor.conf 0644

# The system resolver → dnsmasq.
if [ "$resolved" -eq 1 ]; then
    ensure_dir /etc/systemd/resolved.conf.d
    printf '[Resolve]\nDNS=127.0.0.1\nDomains=~.\n' | write_file /etc/systemd/resolved.conf.d/egress-monitor.conf 0644
else
    printf '# egress-monitor: queries go through the local dnsmasq (uninstall.sh restores the original)\nnameserver 127.0.0.1\n' |
        write_file /etc/resolv.conf 0644
fi

if [ "$real" -eq 1 ]; then
    say "starting: flow logging, dnsmasq, cron"
    /usr/local/lib/egress-monitor/load-firewall.sh
    manifest_add firewall -
    # Debian's dnsmasq reads /etc/dnsmasq.d; its log file must exist for the dnsmasq user.
    touch /var/log/dnsmasq/dnsmasq.log
    chown dnsmasq:adm /var/log/dnsmasq/dnsmasq.log 2>/dev/null || true
    if service_running dnsmasq; then restart_service dnsmasq; else start_service dnsmasq; fi
    [ "$resolved" -eq 1 ] && restart_service systemd-resolved
    start_service cron
    /usr/local/sbin/egress-monitor consolidate --config /etc/egress-monitor/config.toml ||
        warn "the first consolidate run failed; cron retries every minute"
fi
say "installed; files: /var/log/egress-monitor/unique-domains.log, unique-ips.log"
