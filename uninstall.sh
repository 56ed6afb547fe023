#!/bin/bash
# uninstall.sh — reverts everything install.sh did, in either mode, from its manifest
# (/var/lib/egress-monitor/install): files it created are removed, files it changed are
# restored byte for byte (content, mode, owner, symlinks), directories it created are
# removed when empty. Cron mode: the flow-logging table is deleted and dnsmasq restarted (or
# stopped). Agent mode: egress-monitor-agent.service is stopped and disabled (systemd), or
# the recorded agent pid gets SIGTERM (up to 10 s, then SIGKILL) after checking its
# command line; the agent's table inet egress_monitor is deleted if it is still there.
# The endpoint (--serve): egress-monitor-serve.service or its recorded pid stopped the same
# way, its token, key and certificate removed if install.sh made them, the data directories'
# group and modes restored (what was written since goes back to root's group), the user and
# group egress-monitor deleted if install.sh made them.
# enforce (--enforce): its unit stopped and disabled where systemd runs, its firewall chains
# (EGRESS_ENFORCE_IN, EGRESS_ENFORCE_OUT) removed in any case.
# Collector mode: collect and the dashboard stopped (their units, or collector-bg.sh's pids),
# the user egress-collector deleted if install.sh made it (what it wrote in kept data goes to
# root first).
# The collected data (/var/lib/egress-monitor, /var/log/egress-monitor; on a collector its
# history and alerts, /var/lib/egress-collector, /var/log/egress-collector) goes too unless
# --keep-data, which keeps the counts only (not the endpoint's or the dashboard's
# credentials) and, on a collector, collector.toml and inventory.toml. Packages
# installed from Debian's archive are left installed. Idempotent.
#
#   sudo ./uninstall.sh [--root DIR] [--keep-data]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/scripts/install-lib.sh"
. "$here/scripts/install-collector.sh"

root="" keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --root) root=$(realpath -m "$2"); shift 2 ;;
    --keep-data) keep=1; shift ;;
    -h | --help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
real=1
[ -n "$root" ] && real=0
[ "$real" -eq 0 ] || [ "$(id -u)" -eq 0 ] || die "run as root (or with --root DIR)"
mdir="$root$state_rel"
manifest="$mdir/manifest"
if [ ! -f "$manifest" ]; then
    say "nothing to uninstall (no $manifest)"
    exit 0
fi

mode=$(installed_mode "$manifest")
serve_user=egress-monitor

# The collector's services stop first (collector-bg.sh, or their units, still there).
if [ "$real" -eq 1 ] && [ "$mode" = collector ]; then
    rm -f /etc/cron.d/egress-monitor-collector  # no restart by cron meanwhile (put back below if it was there)
    collector_down
fi

# enforce (install.sh --enforce), if the operator started it: stopped (a clean stop removes
# its rules), and its rules removed whatever happened to it.
if [ "$real" -eq 1 ] && grep -qx 'enforce on' "$manifest"; then
    if have_systemd; then systemctl disable --now egress-monitor-enforce.service >/dev/null 2>&1 || true; fi
    f=/usr/local/lib/egress-monitor/enforce-firewall.sh
    if [ -x "$f" ]; then "$f" down || warn "$f down failed"; fi
fi

# The endpoint (install.sh --serve, cron mode) stops first, before its unit file goes.
[ "$real" -eq 0 ] || em_service_down serve

# The agent stops first: before its unit file goes (systemctl disable needs it).
if [ "$real" -eq 1 ] && [ "$mode" = agent ]; then
    em_service_down agent
    # Normally gone already: the agent deletes its table when it stops.
    if command -v nft >/dev/null 2>&1 && nft list table inet egress_monitor >/dev/null 2>&1; then
        nft delete table inet egress_monitor 2>/dev/null || true
    fi
fi

if [ "$real" -eq 1 ] && grep -qx "firewall -" "$manifest"; then
    nft delete table inet egress_monitor_log 2>/dev/null || true
    for ipt in iptables ip6tables; do
        command -v "$ipt" >/dev/null 2>&1 || continue
        "$ipt" -D OUTPUT -j EGRESS_MONITOR 2>/dev/null || true
        "$ipt" -F EGRESS_MONITOR 2>/dev/null || true
        "$ipt" -X EGRESS_MONITOR 2>/dev/null || true
    done
fi

# Newest first: files before the directories that hold them.
tac "$manifest" | while read -r kind path; do
    case "$kind" in
    created)
        # --keep-data keeps the collector's config and inventory: the operator's by now.
        if [ "$keep" -eq 1 ] && [[ "$path" =~ ^/etc/egress-monitor/(collector|inventory)\.toml$ ]]; then continue; fi
        rm -f "$root$path"
        ;;
    modified)
        rm -rf "$root$path"
        cp -a "$mdir/backup$path" "$root$path"
        ;;
    dir)
        [ "$path" = "$state_rel" ] && continue  # the manifest itself goes last
        if [ "$keep" -eq 1 ] && [[ " $data_dirs $collector_dirs " == *" $path "* ]]; then continue; fi
        if [ "$keep" -eq 0 ] && [[ " $data_dirs $collector_dirs /var/log/dnsmasq " == *" $path "* ]]; then
            # Data written since install (ledger, the two files, dnsmasq's log) goes with it.
            find "$root$path" -mindepth 1 -maxdepth 1 ! -path "$mdir" -exec rm -rf {} + 2>/dev/null || true
        fi
        rmdir "$root$path" 2>/dev/null || true
        ;;
    esac
done

# Files written since install in the data directories belong to the endpoint's group (setgid
# directories): back to root's group before that group is deleted.
gid=""
if [ "$real" -eq 1 ] && grep -q '^serve-listen ' "$manifest"; then
    gid=$(getent group "$serve_user" | cut -d: -f3 || true)
fi
restore_data_dirs "$gid"

if [ "$real" -eq 1 ]; then
    # A dnsmasq that ran before install goes back to its own configuration; one that
    # install.sh started is stopped with the other services it started, below.
    if ! grep -qx "started dnsmasq" "$manifest" &&
        grep -qx "created /etc/dnsmasq.d/egress-monitor.conf" "$manifest"; then
        restart_service dnsmasq || true
    fi
    if [ "$mode" != agent ] && have_systemd; then systemctl restart systemd-resolved 2>/dev/null || true; fi
    # (No "started" line at all is fine: grep's status must not end the script under pipefail.)
    { grep '^started ' "$manifest" || true; } | while read -r _ svc; do stop_service "$svc"; done
    if grep -q '^created /etc/systemd/system/' "$manifest" && have_systemd; then systemctl daemon-reload || true; fi

    # The user and group install.sh made (the endpoint's, or the collector's), now that
    # nothing runs as it any more. What it wrote in the kept data goes to root first.
    user=$(manifest_get user)
    if [ -n "$user" ] && [ "$mode" = collector ] && getent passwd "$user" >/dev/null; then
        for d in $collector_dirs /etc/egress-collector; do
            [ ! -d "$d" ] || find "$d" \( -user "$user" -o -group "$user" \) -exec chown -h root:root {} +
        done
    fi
    if [ -n "$user" ] && getent passwd "$user" >/dev/null; then
        userdel "$user" || warn "userdel $user failed"
    fi
    group=$(manifest_get group)
    if [ -n "$group" ] && getent group "$group" >/dev/null; then
        groupdel "$group" || warn "groupdel $group failed"
    fi
    # A group that was there before (userdel took it with the user): the same gid and members.
    kept=$(manifest_get kept-group)
    if [ -n "$kept" ]; then
        IFS=: read -r kname _ kgid kmembers <<<"$kept"
        if ! getent group "$kname" >/dev/null; then
            groupadd --system --gid "$kgid" "$kname" || warn "could not restore the group $kname ($kept)"
            [ -z "$kmembers" ] || gpasswd -M "$kmembers" "$kname" >/dev/null || true
        fi
    fi
fi

# Last, the manifest and the directories made to hold it (deepest first).
own_dirs=$(grep '^dir ' "$manifest" | awk '{print $2}' | grep -E '^(/var|/var/lib|/var/lib/egress-monitor|'"$state_rel"')$' | sort -r || true)
rm -rf "$mdir"
for d in $own_dirs; do
    [ "$keep" -eq 1 ] && [ "$d" = /var/lib/egress-monitor ] && continue
    rmdir "$root$d" 2>/dev/null || true
done
say "uninstalled"
