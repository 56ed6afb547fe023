#!/bin/bash
# install.sh — installs egress-monitor on this Debian host and starts it, in one of two modes.
#
# cron mode (the default):
#   - dependencies from Debian's archive (scripts/deps.sh run), a Release build,
#     /usr/local/sbin/egress-monitor and its cron wrapper;
#   - dnsmasq on 127.0.0.1:53 logging every query (log-queries=extra) to
#     /var/log/dnsmasq/dnsmasq.log, forwarding to the resolvers the host used until now;
#   - the system resolver pointed at it (a systemd-resolved drop-in, or /etc/resolv.conf);
#   - logrotate for the dnsmasq log; an nftables table (iptables where nft is missing) that
#     logs each new outbound non-loopback flow once with the prefix "EGRESS: ";
#   - /etc/egress-monitor/config.toml and a cron entry running consolidate every minute.
# agent mode (--mode agent): the live daemon `egress-monitor agent`, nothing else —
#   - build dependencies (scripts/deps.sh build), the binary, /etc/egress-monitor/config.toml;
#   - /etc/systemd/system/egress-monitor-agent.service, enabled and started where systemd is
#     PID 1; elsewhere the agent is started in the background (setsid, stderr to
#     /var/log/egress-monitor/agent.log, pid in /run/egress-monitor-agent.pid).
#   No dnsmasq, no resolver change, no cron, no logrotate, no LOG table: the agent captures
#   itself and removes its own nftables table when it stops.
# Switching modes: installing one mode over the other first runs uninstall.sh --keep-data
# (the other mode is reverted entirely, the collected counts are kept), then installs.
# Every file it creates or changes is recorded (originals kept byte for byte) under
# /var/lib/egress-monitor/install so that uninstall.sh can revert all of it. Idempotent.
#
#   sudo ./install.sh [--mode cron|agent] [--root DIR] [--binary PATH] [--upstream IP]...
#     --mode MODE    cron (default) or agent
#     --root DIR     act on a fake root: write files only (no packages, build, services,
#                    firewall, processes); for tests
#     --binary PATH  install this binary instead of building one
#     --upstream IP  cron mode: upstream resolver for dnsmasq (repeatable); default: the
#                    host's own
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/scripts/install-lib.sh"

root="" binary="" upstreams=() mode=cron
while [ $# -gt 0 ]; do
    case "$1" in
    --mode) mode=${2:-}; shift 2 ;;
    --mode=*) mode=${1#--mode=}; shift ;;
    --root) root=$(realpath -m "$2"); shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --upstream) upstreams+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,34p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
case "$mode" in
cron | agent) ;;
*) die "--mode must be cron or agent, not '$mode'" ;;
esac
[ "$mode" = agent ] && [ ${#upstreams[@]} -gt 0 ] && die "--upstream applies to cron mode only"
real=1
[ -n "$root" ] && real=0
[ "$real" -eq 0 ] || [ "$(id -u)" -eq 0 ] || die "run as root (or with --root DIR for a fake root)"

if [ "$real" -eq 1 ]; then
    say "installing dependencies"
    if [ "$mode" = cron ]; then "$here/scripts/deps.sh" run; else "$here/scripts/deps.sh" build; fi
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

# The other mode installed: revert it first, keeping the counts. The directories it created
# and that are still there (the data directories) stay on record as created by install.sh,
# so that the final uninstall still removes them.
previous=$(installed_mode "$root$state_rel/manifest")
if [ -n "$previous" ] && [ "$previous" != "$mode" ]; then
    say "switching from $previous mode to $mode mode: uninstalling $previous mode first (collected data kept)"
    # The binary to install survives the uninstall even where it is the installed one.
    keep=$(mktemp -d)
    trap 'rm -rf "$keep"' EXIT
    cp "$binary" "$keep/egress-monitor"
    binary=$keep/egress-monitor
    old_dirs=$(awk '$1 == "dir" { print $2 }' "$root$state_rel/manifest")
    if [ "$real" -eq 1 ]; then "$here/uninstall.sh" --keep-data; else "$here/uninstall.sh" --root "$root" --keep-data; fi
    for d in $old_dirs; do
        [ -d "$root$d" ] && carried_dirs+=("$d")
    done
fi
manifest_init
manifest_set mode "$mode"

# Where the kernel's LOG lines can be read back (cron mode reads them; agent mode keeps the
# key valid for a manual `egress-monitor consolidate`).
if [ -S "$root/run/systemd/journal/socket" ]; then
    kernel_log=journald
elif [ -f "$root/var/log/kern.log" ]; then
    kernel_log=/var/log/kern.log
else
    kernel_log=kmsg
    if [ "$mode" = cron ]; then
        warn "no journald and no /var/log/kern.log: kernel lines are read from /dev/kmsg, whose" \
            "ring holds only a few hundred lines between two runs"
    fi
fi

if [ "$mode" = agent ]; then
    say "installing files under ${root:-/} (agent mode)"
    for d in /etc/egress-monitor /var/lib/egress-monitor /var/log/egress-monitor /usr/local/sbin \
        /usr/share/egress-monitor /etc/systemd/system; do
        ensure_dir "$d"
    done
    prepare_data_dirs ""
    install_file "$binary" /usr/local/sbin/egress-monitor 0755
    install_file "$here/packaging/public-resolvers.txt" /usr/share/egress-monitor/public-resolvers.txt 0644
    sed "s|@KERNEL_LOG@|$kernel_log|" "$here/packaging/config.toml.in" | write_file /etc/egress-monitor/config.toml 0644
    install_file "$here/packaging/egress-monitor-agent.service" /etc/systemd/system/egress-monitor-agent.service 0644
    [ "$real" -eq 1 ] || { say "installed (agent mode, files only)"; exit 0; }

    # Started again only when this run changed the binary, the config or the unit.
    em_service_up agent
    say "installed (agent mode); files: /var/log/egress-monitor/unique-domains.log, unique-ips.log"
    exit 0
fi

say "installing files under ${root:-/} (cron mode)"
for d in /etc/egress-monitor /usr/local/lib/egress-monitor /var/lib/egress-monitor \
    /var/log/egress-monitor /var/log/dnsmasq /etc/dnsmasq.d /etc/cron.d /etc/logrotate.d \
    /usr/local/sbin /usr/share/egress-monitor; do
    ensure_dir "$d"
done
prepare_data_dirs ""
install_file "$binary" /usr/local/sbin/egress-monitor 0755
# The collector's public_resolver rule reads this list (egress-monitor collect, any host).
install_file "$here/packaging/public-resolvers.txt" /usr/share/egress-monitor/public-resolvers.txt 0644
install_file "$here/packaging/consolidate.sh" /usr/local/lib/egress-monitor/consolidate.sh 0755
install_file "$here/packaging/load-firewall.sh" /usr/local/lib/egress-monitor/load-firewall.sh 0755
install_file "$here/packaging/egress-log.nft" /etc/egress-monitor/egress-log.nft 0644
install_file "$here/packaging/logrotate.conf" /etc/logrotate.d/egress-monitor-dnsmasq 0644
install_file "$here/packaging/cron" /etc/cron.d/egress-monitor 0644
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
