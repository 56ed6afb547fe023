# shellcheck shell=bash disable=SC2154  # $root, $real, $here, $binary, $interval: install.sh's
# install.sh --mode collector (sourced by install.sh and uninstall.sh): the collector host.
#   - the system user and group egress-collector; /var/lib/egress-collector (history) and
#     /var/log/egress-collector (alert file) its own, mode 0750; /etc/egress-collector
#     root:egress-collector 0750 for the hosts' tokens (egress-collector's, 0600) and CAs;
#   - /etc/egress-monitor/collector.toml and inventory.toml, commented templates, written only
#     where absent (the operator's from then on: install.sh never rewrites them, and
#     uninstall.sh --keep-data keeps them);
#   - the dashboard's token (0600 root) and a self-signed certificate dashboard.pem (0644) with
#     its key (0600 root), each only where absent (an operator's own are used, never replaced);
#   - the units egress-monitor-collect.service (as egress-collector, no capability) and
#     egress-monitor-dashboard.service, enabled and started where systemd is PID 1; elsewhere
#     collector-bg.sh, run by cron every minute (/etc/cron.d/egress-monitor-collector) and once
#     now, keeps both running (pids in /run/egress-monitor-{collect,dashboard}.pid);
#   - logrotate for the alert file (/etc/logrotate.d/egress-collector).
collector_user=egress-collector
collector_dirs="/var/lib/egress-collector /var/log/egress-collector"
collector_bg=/usr/local/lib/egress-monitor/collector-bg.sh

# A directory of the collector's, owned by OWNER (user:group; the owner is left alone on a
# fake root) with MODE; what is in it already goes to OWNER too, each original recorded.
collector_dir() {  # PATH OWNER MODE
    local d=$1 owner=$2 f
    record_attr "$d"
    if [ "$real" -eq 1 ]; then
        while IFS= read -r -d '' f; do
            record_attr "${f#"$root"}"
        done < <(find "$root$d" ! -type l \( ! -user "${owner%:*}" -o ! -group "${owner#*:}" \) -print0)
        # -h: a file swapped for a link meanwhile (the directory is that user's) gets the
        # link changed, never what it points at.
        find "$root$d" ! -type l -exec chown -h "$owner" {} +
    fi
    chmod "$3" "$root$d"
}

has_hosts() {  # the inventory holds a [[host]]
    grep -Eq '^[[:space:]]*\[\[[[:space:]]*host[[:space:]]*\]\]' "$root/etc/egress-monitor/inventory.toml" 2>/dev/null
}

dashboard_credentials() {  # token, key and certificate: made only where absent
    local e=/etc/egress-monitor tmp san n
    [ -e "$root$e/dashboard.token" ] || openssl rand -base64 32 | write_file $e/dashboard.token 0600
    if [ -e "$root$e/dashboard.key" ] && [ -e "$root$e/dashboard.pem" ]; then return 0; fi
    if [ -e "$root$e/dashboard.key" ] || [ -e "$root$e/dashboard.pem" ]; then
        die "$e/dashboard.key and $e/dashboard.pem go together: put both there (your own) or neither (one is made)"
    fi
    san=""
    for n in $(serve_names) localhost; do san="$san,DNS:$n"; done
    san="$san,IP:127.0.0.1,IP:::1"
    tmp=$(mktemp -d)
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=$(serve_names | tail -n 1)" -addext "subjectAltName=${san#,}" \
        -keyout "$tmp/key" -out "$tmp/pem" 2>"$tmp/err"; then
        cat "$tmp/err" >&2
        rm -rf "$tmp"
        die "openssl could not make the dashboard's key and certificate"
    fi
    install_file "$tmp/key" $e/dashboard.key 0600
    install_file "$tmp/pem" $e/dashboard.pem 0644
    rm -rf "$tmp"
    say "made a self-signed certificate for the dashboard, ${san#,} (EC P-256, 10 years)"
}

# Where systemd is PID 1: the unit enabled, and (re)started when this run changed a file;
# elsewhere collector-bg.sh (stopped first when a file changed).
collector_up() {  # collect | dashboard
    local name=$1 unit=egress-monitor-$1.service why=""
    [ "$name" = collect ] && ! has_hosts && why="no [[host]] in /etc/egress-monitor/inventory.toml yet"
    if [ "$name" = dashboard ] && ! "$em_bin" dashboard --help >/dev/null 2>&1; then
        why="this binary has no dashboard subcommand"
    fi
    if have_systemd; then
        systemctl daemon-reload
        manifest_set "$name" systemd
        systemctl enable "$unit" >/dev/null 2>&1 || die "systemctl enable $unit failed"
        if [ -n "$why" ]; then say "$unit enabled, not started: $why"; return 0; fi
        if [ "$files_changed" -gt 0 ]; then systemctl restart "$unit"; else systemctl start "$unit"; fi
        sleep 1
        systemctl is-active --quiet "$unit" || die "$unit is not running; see: journalctl -u $unit"
        say "$unit running"
    else
        manifest_set "$name" cron
        [ "$files_changed" -eq 0 ] || "$collector_bg" stop "$name"
        if [ -n "$why" ]; then
            say "$name not started: $why (cron tries again every minute)"
            return 0
        fi
        "$collector_bg" start "$name" || die "$name did not start"
        "$collector_bg" status "$name"
    fi
}

collector_next_steps() {  # what the operator does next, printed at the end
    local e=/etc/egress-monitor fp listen
    fp=$(openssl x509 -in "$root$e/dashboard.pem" -noout -fingerprint -sha256 2>/dev/null | sed 's/^.*=//') || true
    listen=$(sed -n 's/^listen = "\(.*\)".*$/\1/p' "$root$e/collector.toml" | head -n 1)
    cat <<EOF
egress-monitor: the collector is installed. Next:
  - add each monitored host to $e/inventory.toml (its install with --serve prints the entry)
    put its token in /etc/egress-collector/ (chown $collector_user, chmod 0600) and its certificate;
  - then: systemctl restart egress-monitor-collect (without systemd, cron starts it within a minute);
  - alerts: /var/log/egress-collector/alerts.jsonl, and egress-monitor report --config $e/collector.toml;
  - dashboard: https://${listen:-127.0.0.1:8444}/ ([dashboard] in $e/collector.toml), sign in with
    the first line of $e/dashboard.token; its certificate's SHA-256 fingerprint:
    ${fp:-unknown}
EOF
}

install_collector() {
    local d
    say "installing files under ${root:-/} (collector mode)"
    for d in /etc/egress-monitor /etc/egress-collector /var/lib/egress-monitor /var/log/egress-monitor \
        $collector_dirs /usr/local/sbin /usr/local/lib/egress-monitor /usr/share/egress-monitor \
        /etc/systemd/system /etc/cron.d /etc/logrotate.d; do
        ensure_dir "$d"
    done
    ensure_user "$collector_user"
    prepare_data_dirs ""
    for d in $collector_dirs; do collector_dir "$d" "$collector_user:$collector_user" 0750; done
    # The hosts' tokens go in as egress-collector's (mode 0600, which collect insists on): the
    # directory only, never what the operator put in it.
    record_attr /etc/egress-collector
    [ "$real" -eq 0 ] || chown "root:$collector_user" /etc/egress-collector
    chmod 0750 "$root/etc/egress-collector"
    install_file "$binary" /usr/local/sbin/egress-monitor 0755
    install_file "$here/packaging/public-resolvers.txt" /usr/share/egress-monitor/public-resolvers.txt 0644
    if [ ! -e "$root/etc/egress-monitor/collector.toml" ]; then
        sed 's|@DASHBOARD@|127.0.0.1:8444|' "$here/packaging/collector.toml.in" |
            write_file /etc/egress-monitor/collector.toml 0644
    fi
    [ -e "$root/etc/egress-monitor/inventory.toml" ] ||
        install_file "$here/packaging/inventory.toml" /etc/egress-monitor/inventory.toml 0644
    dashboard_credentials
    sed "s|@INTERVAL@|$interval|g" "$here/packaging/egress-monitor-collect.service" |
        write_file /etc/systemd/system/egress-monitor-collect.service 0644
    install_file "$here/packaging/egress-monitor-dashboard.service" \
        /etc/systemd/system/egress-monitor-dashboard.service 0644
    sed "s|@INTERVAL@|$interval|" "$here/packaging/collector-bg.sh" | write_file $collector_bg 0755
    install_file "$here/packaging/collector-cron" /etc/cron.d/egress-monitor-collector 0644
    install_file "$here/packaging/collector-logrotate.conf" /etc/logrotate.d/egress-collector 0644
    if [ "$real" -eq 1 ]; then
        have_systemd || start_service cron
        # The history made (or migrated) by its user now, and checked readable as that user
        # (both services open it as egress-collector).
        setpriv --reuid="$collector_user" --regid="$collector_user" --init-groups --no-new-privs -- \
            "$em_bin" report --config /etc/egress-monitor/collector.toml >/dev/null ||
            warn "egress-monitor report as $collector_user failed: the history is not readable"
        collector_up collect
        collector_up dashboard
    fi
    local f
    for f in collector.toml inventory.toml; do  # a collector set up by hand before (older docs)
        if [ -f "$root/etc/egress-collector/$f" ]; then
            warn "/etc/egress-collector/$f is not read by the services: they read /etc/egress-monitor/$f; merge it there"
        fi
    done
    for f in "$root"/etc/egress-collector/*.token; do  # collect, as its user, refuses others'
        [ "$real" -eq 1 ] && [ -f "$f" ] || continue
        [ "$(stat -c '%U %a' "$f")" = "$collector_user 600" ] ||
            warn "$f is not $collector_user's with mode 0600: collect will refuse it (chown $collector_user $f; chmod 600 $f)"
    done
    collector_next_steps
    say "installed (collector mode$([ "$real" -eq 1 ] || echo ", files only"))"
}

# uninstall.sh: both stopped however install.sh started them, before their files go.
collector_down() {
    local name
    for name in collect dashboard; do
        em_service_down "$name"
        if [ -x "$collector_bg" ]; then "$collector_bg" stop "$name" || true; fi
    done
}
