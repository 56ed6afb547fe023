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
# The endpoint (--serve ADDR:PORT, either mode): `egress-monitor serve`, HTTPS with a bearer
# token, from which the collector fetches the two files; least privilege:
#   - the system user and group egress-monitor (useradd --system --user-group, no home, no
#     shell), made only if absent and then removed by uninstall.sh;
#   - /var/lib/egress-monitor and /var/log/egress-monitor root:egress-monitor mode 2750
#     (setgid: what the agent and consolidate write there is the group's; files already there
#     are chgrp'd, their original owners and modes recorded and restored by uninstall.sh);
#   - /etc/egress-monitor/serve.token (openssl rand -base64 32, 0600 root) and a self-signed
#     certificate serve.pem (0644) with its key serve.key (0600 root; EC P-256, 10 years,
#     subjectAltName: the host's names and the listen address unless 0.0.0.0 or [::]). Each
#     is made only if absent: an operator's own token, or key and certificate, are used and
#     never replaced or removed;
#   - the [serve] table of config.toml (listen, token_file, tls_cert, tls_key,
#     user = "egress-monitor"): the endpoint binds and reads the token and the key as root,
#     then becomes that user (no capability left) before it accepts a connection;
#   - cron mode: /etc/systemd/system/egress-monitor-serve.service (root with only
#     CAP_SETUID CAP_SETGID, and CAP_NET_BIND_SERVICE for a port below 1024; read-only
#     system, MemoryMax=128M), enabled and started where systemd is PID 1, else started in
#     the background like the agent (stderr to /var/log/egress-monitor/serve.log, pid in
#     /run/egress-monitor-serve.pid). Agent mode: in_agent = true, no unit of its own: the
#     agent runs the endpoint as a child process (its unit gets CAP_NET_BIND_SERVICE for a
#     port below 1024).
#   It prints what the collector needs: the certificate to copy as its ca_file, the token
#   file, an inventory [[host]] entry.
#   uninstall.sh removes the token, key and certificate it made even with --keep-data (which
#   keeps the collected counts only: a private key and a bearer token are not data to leave
#   behind); the collector needs the new ones after a later install. install.sh itself
#   carries them over when it reinstalls (below), so the collector keeps working.
# collector mode (--mode collector): the collector host, which fetches every monitored host's
#   files (scripts/install-collector.sh has the details) —
#   - build dependencies, cron, logrotate and openssl (scripts/deps.sh collector), the binary;
#   - the system user egress-collector, /var/lib/egress-collector (history) and
#     /var/log/egress-collector (alerts.jsonl), its own, 0750; /etc/egress-collector
#     (root:egress-collector 0750) for the hosts' tokens and certificates;
#   - /etc/egress-monitor/collector.toml and inventory.toml, commented templates written only
#     where absent; the dashboard's token (0600 root) and a self-signed certificate, its
#     SHA-256 fingerprint printed;
#   - egress-monitor-collect.service (collect --interval, as egress-collector) and
#     egress-monitor-dashboard.service where systemd is PID 1; elsewhere
#     /usr/local/lib/egress-monitor/collector-bg.sh run by cron every minute and once now;
#   - logrotate for the alert file. collect starts once the inventory has a [[host]].
# enforce (--enforce, cron or agent mode): the hostname allowlist's unit
#   /etc/systemd/system/egress-monitor-enforce.service and the script that loads and removes
#   the firewall rules feeding its queues with it (/usr/local/lib/egress-monitor/
#   enforce-firewall.sh). Needs the operator's /etc/egress-monitor/enforce.toml, accepted by
#   `enforce --check`, and never touches it; starts nothing (an allowlist can cut the host
#   off): `systemctl enable --now egress-monitor-enforce` is the operator's step.
# Switching modes, adding or dropping --enforce, or adding, dropping or moving the endpoint
# (--serve given or not, or with another address): install.sh first runs uninstall.sh --keep-data (the install is reverted
# entirely, the collected counts are kept), then installs. The endpoint's token is carried
# over, and its key and certificate too while the address stays the same.
# Every file it creates or changes is recorded (originals kept byte for byte) under
# /var/lib/egress-monitor/install so that uninstall.sh can revert all of it. Idempotent.
#
#   sudo ./install.sh [--mode cron|agent|collector] [--serve ADDR:PORT] [--root DIR]
#                     [--binary PATH] [--upstream IP]... [--interval DURATION] [--enforce]
#     --mode MODE    cron (default), agent or collector (above)
#     --serve ADDR:PORT  also run the HTTPS endpoint for the collector on this address
#                    (IPv4:PORT or [IPv6]:PORT; 0.0.0.0:8443 for every IPv4 address)
#     --root DIR     act on a fake root: write files only (no packages, build, services,
#                    firewall, processes, users: with --serve, the data directories get
#                    mode 2750 but keep their group); for tests
#     --binary PATH  install this binary instead of building one
#     --upstream IP  cron mode: upstream resolver for dnsmasq (repeatable); default: the
#                    host's own
#     --interval DURATION  collector mode: time between collect cycles (30s, 5m, 1h; 5m)
#     --enforce      cron or agent mode: install enforce's unit and rules (not started)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/scripts/install-lib.sh"
. "$here/scripts/install-collector.sh"

root="" binary="" upstreams=() mode=cron serve="" interval="" enforce=0
while [ $# -gt 0 ]; do
    case "$1" in
    --mode) mode=${2:-}; shift 2 ;;
    --mode=*) mode=${1#--mode=}; shift ;;
    --root) root=$(realpath -m "$2"); shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --upstream) upstreams+=("$2"); shift 2 ;;
    --serve) [ $# -ge 2 ] || die "--serve needs ADDR:PORT"; serve=$2; shift 2 ;;
    --serve=*) serve=${1#--serve=}; shift ;;
    --enforce) enforce=1; shift ;;
    --interval) [ $# -ge 2 ] || die "--interval needs a duration"; interval=$2; shift 2 ;;
    --interval=*) interval=${1#--interval=}; shift ;;
    -h | --help) awk 'NR == 1 { next } /^#/ { print; next } { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
case "$mode" in
cron | agent | collector) ;;
*) die "--mode must be cron, agent or collector, not '$mode'" ;;
esac
[ "$mode" != cron ] && [ ${#upstreams[@]} -gt 0 ] && die "--upstream applies to cron mode only"
if [ "$mode" = collector ]; then
    [ -z "$serve" ] || die "--serve applies to cron and agent mode (a monitored host), not collector mode"
    [ "$enforce" -eq 0 ] || die "--enforce applies to cron and agent mode (a monitored host), not collector mode"
    interval=${interval:-5m}
    [[ "$interval" =~ ^[1-9][0-9]{0,5}(s|m|h)$ ]] || die "--interval wants a duration like 30s, 5m or 1h, not '$interval'"
elif [ -n "$interval" ]; then
    die "--interval applies to collector mode only"
fi
serve_ip="" serve_port=""
if [ -n "$serve" ]; then
    case "$serve" in
    \[*\]:*) serve_ip=${serve%]:*}; serve_ip=${serve_ip#[}; serve_port=${serve##*]:} ;;
    *:*) serve_ip=${serve%:*}; serve_port=${serve##*:} ;;
    esac
    if ! { [[ "$serve_ip" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] ||
        { [[ "$serve" == \[* ]] && [[ "$serve_ip" =~ ^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$ ]]; }; } ||
        ! [[ "$serve_port" =~ ^[1-9][0-9]{0,4}$ ]] || [ "$serve_port" -gt 65535 ]; then
        die "--serve wants IPv4:PORT or [IPv6]:PORT (port 1..65535; 0.0.0.0 or [::] for every address), not '$serve'"
    fi
fi
serve_user=egress-monitor  # the endpoint's user and group
real=1
[ -n "$root" ] && real=0
[ "$real" -eq 0 ] || [ "$(id -u)" -eq 0 ] || die "run as root (or with --root DIR for a fake root)"

if [ "$real" -eq 1 ]; then
    say "installing dependencies"
    case "$mode" in
    cron) "$here/scripts/deps.sh" run ;;
    agent) "$here/scripts/deps.sh" build ;;
    collector) "$here/scripts/deps.sh" collector ;;
    esac
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
if [ "$enforce" -eq 1 ]; then  # the operator's allowlist, checked before anything changes
    [ -f "$root/etc/egress-monitor/enforce.toml" ] ||
        die "--enforce needs your allowlist in /etc/egress-monitor/enforce.toml first (docs/enforce.md; egress-monitor rules --format enforce drafts one from what this host did)"
    "$binary" enforce --config "$root/etc/egress-monitor/enforce.toml" --check >/dev/null ||
        die "/etc/egress-monitor/enforce.toml is refused by egress-monitor enforce --check (above)"
fi

# The other mode installed, or the endpoint added, removed or moved: revert the install
# first, keeping the counts. The directories it created and that are still there (the data
# directories) stay on record as created by install.sh, so that the final uninstall still
# removes them. The endpoint's token (and its key and certificate while the address is the
# same) are carried over: the collector keeps trusting this host.
previous=$(installed_mode "$root$state_rel/manifest")
previous_serve="" previous_enforce=0
if [ -n "$previous" ]; then
    previous_serve=$(awk '$1 == "serve-listen" { print $2; exit }' "$root$state_rel/manifest")
    ! grep -qx 'enforce on' "$root$state_rel/manifest" || previous_enforce=1
fi
keep=""
if [ -n "$previous" ] && { [ "$previous" != "$mode" ] || [ "$previous_serve" != "$serve" ] ||
    [ "$previous_enforce" != "$enforce" ]; }; then
    if [ "$previous" != "$mode" ]; then
        say "switching from $previous mode to $mode mode: uninstalling $previous mode first (collected data kept)"
    elif [ "$previous_enforce" != "$enforce" ]; then
        say "$([ "$enforce" -eq 1 ] && echo adding || echo removing) enforce's unit: uninstalling first (collected data kept)"
    else
        say "changing the endpoint (--serve ${previous_serve:-none} -> ${serve:-none}): uninstalling first (collected data kept)"
    fi
    # The binary to install survives the uninstall even where it is the installed one.
    keep=$(mktemp -d)
    trap 'rm -rf "$keep"' EXIT
    cp "$binary" "$keep/egress-monitor"
    binary=$keep/egress-monitor
    if [ -n "$serve" ]; then
        carry=(serve.token)
        [ "${previous_serve%:*}" = "${serve%:*}" ] && carry+=(serve.key serve.pem)
        for f in "${carry[@]}"; do
            if grep -qx "created /etc/egress-monitor/$f" "$root$state_rel/manifest"; then
                cp -a "$root/etc/egress-monitor/$f" "$keep/$f"
            fi
        done
    fi
    old_dirs=$(awk '$1 == "dir" { print $2 }' "$root$state_rel/manifest")
    # The collector's config and inventory (the operator's by now) are kept by --keep-data.
    old_files=$(awk '$1 == "created" && $2 ~ /^\/etc\/egress-monitor\/(collector|inventory)\.toml$/ { print $2 }' \
        "$root$state_rel/manifest")
    if [ "$real" -eq 1 ]; then "$here/uninstall.sh" --keep-data; else "$here/uninstall.sh" --root "$root" --keep-data; fi
    for d in $old_dirs; do
        [ -d "$root$d" ] && carried_dirs+=("$d")
    done
    for f in $old_files; do
        [ -f "$root$f" ] && carried_files+=("$f")
    done
fi
manifest_init
manifest_set mode "$mode"
[ -z "$serve" ] || manifest_set serve-listen "$serve"
[ "$enforce" -eq 0 ] || manifest_set enforce on

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

# --- the endpoint (--serve): its user, its credentials, its [serve] table

data_group=""
ensure_user() {  # NAME: the system user and group NAME, recorded when made here
    local user=$1
    if [ "$real" -eq 0 ]; then
        say "fake root: no system user $user made (its directories get their modes, not its group)"
        return 0
    fi
    data_group=$user
    if getent passwd "$user" >/dev/null; then
        id -Gn "$user" | tr ' ' '\n' | grep -qx "$user" ||
            die "the user $user exists but is not in a group $user, which its directories are given"
        return 0
    fi
    local opts=(--system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin)
    if getent group "$user" >/dev/null; then
        # userdel takes a same-named group with the user: uninstall.sh puts this one back.
        manifest_set kept-group "$(getent group "$user")"
        useradd "${opts[@]}" --gid "$user" "$user"
    else
        useradd "${opts[@]}" --user-group "$user"
        manifest_set group "$user"
    fi
    manifest_set user "$user"
    say "created the system user and group $user"
}

serve_names() {  # the host's names: short, then the fully qualified one if it differs
    local short fqdn
    short=$(hostname -s 2>/dev/null || hostname)
    fqdn=$(hostname -f 2>/dev/null || true)
    echo "$short"
    [ -z "$fqdn" ] || [ "$fqdn" = "$short" ] || [[ "$fqdn" != *.* ]] || echo "$fqdn"
}
ensure_credentials() {  # token, key and certificate: made only where absent
    local e=/etc/egress-monitor tmp san n
    if [ ! -e "$root$e/serve.token" ]; then
        if [ -n "$keep" ] && [ -f "$keep/serve.token" ]; then
            install_file "$keep/serve.token" $e/serve.token 0600
        else
            openssl rand -base64 32 | write_file $e/serve.token 0600
        fi
    fi
    if [ -e "$root$e/serve.key" ] && [ -e "$root$e/serve.pem" ]; then return 0; fi
    if [ -e "$root$e/serve.key" ] || [ -e "$root$e/serve.pem" ]; then
        die "$e/serve.key and $e/serve.pem go together: put both there (your own) or neither (one is made)"
    fi
    if [ -n "$keep" ] && [ -f "$keep/serve.key" ] && [ -f "$keep/serve.pem" ]; then
        install_file "$keep/serve.key" $e/serve.key 0600
        install_file "$keep/serve.pem" $e/serve.pem 0644
        return 0
    fi
    san=""
    for n in $(serve_names); do san="$san,DNS:$n"; done
    case "$serve_ip" in 0.0.0.0 | :: | "") ;; *) san="$san,IP:$serve_ip" ;; esac
    tmp=$(mktemp -d)
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=$(serve_names | tail -n 1)" -addext "subjectAltName=${san#,}" \
        -keyout "$tmp/key" -out "$tmp/pem" 2>"$tmp/err"; then
        cat "$tmp/err" >&2
        rm -rf "$tmp"
        die "openssl could not make the endpoint's key and certificate"
    fi
    install_file "$tmp/key" $e/serve.key 0600
    install_file "$tmp/pem" $e/serve.pem 0644
    rm -rf "$tmp"
    say "made a self-signed certificate for ${san#,} (EC P-256, 10 years): $e/serve.pem"
}
config_toml() {  # the config file: the template, and the [serve] table with --serve
    sed "s|@KERNEL_LOG@|$kernel_log|" "$here/packaging/config.toml.in"
    [ -n "$serve" ] || return 0
    cat <<EOF

# The HTTPS endpoint the collector fetches the two files from (install.sh --serve). It binds
# and reads the token and the key as root, then runs as this user (read access only).
[serve]
listen = "$serve"
token_file = "/etc/egress-monitor/serve.token"
tls_cert = "/etc/egress-monitor/serve.pem"
tls_key = "/etc/egress-monitor/serve.key"
user = "$serve_user"
EOF
    if [ "$mode" = agent ]; then echo "in_agent = true                  # run by the agent, as a child process"; fi
}
with_bind_cap() {  # a unit on stdin; CAP_NET_BIND_SERVICE added to its capabilities for a port < 1024
    if [ -n "$serve" ] && [ "$serve_port" -lt 1024 ]; then
        sed -E 's/^(CapabilityBoundingSet|AmbientCapabilities)=.*/& CAP_NET_BIND_SERVICE/'
    else
        cat
    fi
}
collector_help() {  # what the collector needs, printed at the end
    [ -n "$serve" ] || return 0
    local e=/etc/egress-monitor name short how=egress-monitor-serve
    name=$(serve_names | tail -n 1)
    short=$(serve_names | head -n 1)
    [ "$mode" = cron ] || how="a child process of the agent"
    cat <<EOF
egress-monitor: the endpoint listens on $serve (HTTPS; $how, as user $serve_user). For the collector:
  - copy $e/serve.pem to it as this host's ca_file$(grep -qx "created $e/serve.pem" "$manifest" || echo " (your own certificate: give the CA that signed it)");
  - copy the token, the first line of $e/serve.token, into its token_file (mode 0600);
  - add to its inventory (the name must resolve there; or use an address the certificate names):
      [[host]]
      name = "$short"
      url = "https://$name:$serve_port"
      token_file = "/etc/egress-collector/$short.token"
      ca_file = "/etc/egress-collector/$short.pem"
EOF
}

install_enforce() {  # --enforce: the unit and the rules' script; started by the operator
    [ "$enforce" -eq 1 ] || return 0
    ensure_dir /etc/systemd/system
    ensure_dir /usr/local/lib/egress-monitor
    install_file "$here/packaging/enforce-firewall.sh" /usr/local/lib/egress-monitor/enforce-firewall.sh 0755
    install_file "$here/packaging/egress-monitor-enforce.service" /etc/systemd/system/egress-monitor-enforce.service 0644
    [ "$real" -eq 0 ] || ! have_systemd || systemctl daemon-reload
}
enforce_help() {
    [ "$enforce" -eq 1 ] || return 0
    if have_systemd; then
        say "enforce is installed, not started: once /etc/egress-monitor/enforce.toml is what this host may reach," \
            "systemctl enable --now egress-monitor-enforce (its firewall rules come and go with it)"
    else
        say "enforce is installed, not started: its unit needs systemd as PID 1 (it restarts enforce and" \
            "loads its rules); by hand: egress-monitor enforce & then /usr/local/lib/egress-monitor/enforce-firewall.sh up"
    fi
}

if [ "$mode" = collector ]; then
    install_collector
    exit 0
fi

if [ "$mode" = agent ]; then
    say "installing files under ${root:-/} (agent mode)"
    for d in /etc/egress-monitor /var/lib/egress-monitor /var/log/egress-monitor /usr/local/sbin \
        /usr/share/egress-monitor /etc/systemd/system; do
        ensure_dir "$d"
    done
    [ -z "$serve" ] || ensure_user "$serve_user"
    SETGID=$([ -n "$serve" ] && echo 1 || echo 0) prepare_data_dirs "$data_group"
    install_file "$binary" /usr/local/sbin/egress-monitor 0755
    install_file "$here/packaging/public-resolvers.txt" /usr/share/egress-monitor/public-resolvers.txt 0644
    [ -z "$serve" ] || ensure_credentials
    config_toml | write_file /etc/egress-monitor/config.toml 0644
    with_bind_cap <"$here/packaging/egress-monitor-agent.service" |
        write_file /etc/systemd/system/egress-monitor-agent.service 0644
    install_enforce
    if [ "$real" -eq 0 ]; then
        collector_help
        enforce_help
        say "installed (agent mode, files only)"
        exit 0
    fi

    # Started again only when this run changed the binary, the config, the unit or a credential.
    em_service_up agent
    collector_help
    enforce_help
    say "installed (agent mode); files: /var/log/egress-monitor/unique-domains.log, unique-ips.log"
    exit 0
fi

say "installing files under ${root:-/} (cron mode)"
for d in /etc/egress-monitor /usr/local/lib/egress-monitor /var/lib/egress-monitor \
    /var/log/egress-monitor /var/log/dnsmasq /etc/dnsmasq.d /etc/cron.d /etc/logrotate.d \
    /usr/local/sbin /usr/share/egress-monitor; do
    ensure_dir "$d"
done
[ -z "$serve" ] || ensure_user "$serve_user"
SETGID=$([ -n "$serve" ] && echo 1 || echo 0) prepare_data_dirs "$data_group"
install_file "$binary" /usr/local/sbin/egress-monitor 0755
# The collector's public_resolver rule reads this list (egress-monitor collect, any host).
install_file "$here/packaging/public-resolvers.txt" /usr/share/egress-monitor/public-resolvers.txt 0644
install_file "$here/packaging/consolidate.sh" /usr/local/lib/egress-monitor/consolidate.sh 0755
install_file "$here/packaging/load-firewall.sh" /usr/local/lib/egress-monitor/load-firewall.sh 0755
install_file "$here/packaging/egress-log.nft" /etc/egress-monitor/egress-log.nft 0644
install_file "$here/packaging/logrotate.conf" /etc/logrotate.d/egress-monitor-dnsmasq 0644
install_file "$here/packaging/cron" /etc/cron.d/egress-monitor 0644
config_toml | write_file /etc/egress-monitor/config.toml 0644
if [ -n "$serve" ]; then
    ensure_credentials
    ensure_dir /etc/systemd/system
    with_bind_cap <"$here/packaging/egress-monitor-serve.service" |
        write_file /etc/systemd/system/egress-monitor-serve.service 0644
fi

install_enforce

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
    [ -z "$serve" ] || em_service_up serve
fi
collector_help
enforce_help
say "installed; files: /var/log/egress-monitor/unique-domains.log, unique-ips.log"
