# shellcheck shell=bash disable=SC2154,SC2034  # $root comes from the sourcing script; globals are read there
# Shared by install.sh and uninstall.sh (sourced): paths under $root, and the manifest of
# what install.sh changed — one "KIND PATH" per line, KIND = created | modified | dir |
# firewall | started — with the original of every modified file kept under backup/ (cp -a:
# content, mode, owner, symlinks). A few "KIND VALUE" lines record state rather than paths:
# "mode cron|agent" (manifests written before agent mode have none: cron), and per service
# NAME it started (agent, serve) "NAME systemd" (unit enabled and started) or "NAME-pid PID"
# (started without systemd); with the endpoint, "serve-listen ADDR:PORT", and "user NAME",
# "group NAME" for what useradd made, or "kept-group LINE" (a group of that name that was
# there before: userdel takes it with the user). "attr MODE:UID:GID:PATH" is the original
# mode and owner of a path install.sh changed without creating it.
say() { echo "egress-monitor: $*"; }
warn() { echo "egress-monitor: warning: $*" >&2; }
die() { echo "egress-monitor: error: $*" >&2; exit 1; }

state_rel=/var/lib/egress-monitor/install
carried_dirs=()  # directories an earlier install created and that are still there (mode switch)
carried_files=()  # files it created that uninstall.sh --keep-data kept (the collector's config)
manifest_init() {
    mdir="$root$state_rel"
    manifest="$mdir/manifest"
    # The manifest's own directories are recorded first so that uninstall removes them last;
    # carried directories go before them, as they did in the manifest they come from.
    local made=() p="" part parts
    IFS=/ read -ra parts <<<"${state_rel#/}"
    for part in "${parts[@]}"; do
        p="$p/$part"
        if [ ! -d "$root$p" ]; then
            mkdir "$root$p"
            made+=("$p")
        fi
    done
    mkdir -p "$mdir/backup"
    # Backups of the host's files: root's alone, whoever may read the data directory.
    chmod 0700 "$mdir"
    touch "$manifest"
    for p in "${carried_dirs[@]}" "${made[@]}"; do manifest_add dir "$p"; done
    for p in "${carried_files[@]}"; do manifest_add created "$p"; done
}
manifest_has() { grep -q " $1\$" "$manifest"; }
manifest_add() { manifest_has "$2" || echo "$1 $2" >>"$manifest"; }
manifest_get() { awk -v k="$1" '$1 == k { print $2; exit }' "$manifest"; }
manifest_set() {  # the one "KIND VALUE" line of its kind; untouched when already so
    grep -qxF "$1 $2" "$manifest" && return 0
    local tmp="$manifest.egress-monitor.tmp"
    awk -v k="$1" '$1 != k' "$manifest" >"$tmp"
    echo "$1 $2" >>"$tmp"
    mv -f "$tmp" "$manifest"
}
manifest_del() { grep -q "^$1 " "$manifest" || return 0; sed -i "/^$1 /d" "$manifest"; }
# The mode recorded in manifest $1: agent | cron | nothing when there is no install.
installed_mode() {
    [ -s "$1" ] || return 0
    local m
    m=$(awk '$1 == "mode" { print $2; exit }' "$1")
    if [ -n "$m" ]; then echo "$m"; elif grep -qE '^(created|modified) ' "$1"; then echo cron; fi
}

ensure_dir() {  # mkdir -p, recording each directory it creates
    local d=$1 parts=() p
    IFS=/ read -ra parts <<<"${d#/}"
    p=""
    for part in "${parts[@]}"; do
        p="$p/$part"
        if [ ! -d "$root$p" ]; then
            mkdir "$root$p"
            manifest_add dir "$p"
        fi
    done
}

# Records a path before it is written: its original (if any) is backed up once.
track() {
    local p=$1
    manifest_has "$p" && return 0
    if [ -e "$root$p" ] || [ -L "$root$p" ]; then
        mkdir -p "$mdir/backup$(dirname "$p")"
        cp -a "$root$p" "$mdir/backup$p"
        echo "modified $p" >>"$manifest"
    else
        echo "created $p" >>"$manifest"
    fi
}
# The file as it was before install.sh touched it (for reading the host's own settings).
original_of() {
    if grep -qx "modified $1" "$manifest" 2>/dev/null; then echo "$mdir/backup$1"; else echo "$root$1"; fi
}
files_changed=0  # how many files write_file actually changed in this run
write_file() {  # stdin → $root$1 with mode $2; a symlink in the way is replaced by a file
    local p=$1 mode=$2
    track "$p"
    # Made unreadable to others until chmod: a private key or a token never shows in between.
    rm -f "$root$p.egress-monitor.tmp"
    (umask 077 && cat >"$root$p.egress-monitor.tmp")
    chmod "$mode" "$root$p.egress-monitor.tmp"
    # Already so (content, mode, owner, not a symlink): left alone, so a second run changes
    # nothing at all and reports that nothing changed.
    if [ -f "$root$p" ] && [ ! -L "$root$p" ] && cmp -s "$root$p.egress-monitor.tmp" "$root$p" &&
        [ "$(stat -c '%a %u %g' "$root$p.egress-monitor.tmp")" = "$(stat -c '%a %u %g' "$root$p")" ]; then
        rm -f "$root$p.egress-monitor.tmp"
        return 0
    fi
    [ -L "$root$p" ] && rm -f "$root$p"
    mv -f "$root$p.egress-monitor.tmp" "$root$p"
    files_changed=$((files_changed + 1))
}
install_file() { write_file "$2" "$3" <"$1"; }

# Mode and owner of a path install.sh changes but did not create ("attr MODE:UID:GID:PATH"),
# recorded once: the first record is the original, which uninstall.sh puts back.
attr_recorded() {
    awk -v p="$1" '$1 == "attr" { sub(/^attr [0-7]+:[0-9]+:[0-9]+:/, ""); if ($0 == p) f = 1 }
        END { exit !f }' "$manifest"
}
record_attr() {
    local p=$1
    grep -qxF "dir $p" "$manifest" && return 0
    attr_recorded "$p" && return 0
    echo "attr $(stat -c '%a:%u:%g' "$root$p"):$p" >>"$manifest"
}
restore_attrs() {  # uninstall.sh: each recorded original, where the path is still there
    local m u g p
    { grep '^attr ' "$manifest" || true; } | while IFS=: read -r m u g p; do
        m=${m#attr }
        if [ ! -e "$root$p" ] || [ -L "$root$p" ]; then continue; fi
        chown "$u:$g" "$root$p"
        chmod "00$m" "$root$p"  # two leading zeros: clears a directory's setgid bit too
    done
}

# The data directories (ledger and cursors; the two files): root's, mode 0750 — or, with an
# endpoint (GROUP given), root:GROUP mode 2750, setgid so that what the agent and consolidate
# write there is the group's, and what is there already chgrp'd to it: the endpoint, running
# as a member of GROUP, reads the files (0640) and the ledger, and writes nothing.
data_dirs="/var/lib/egress-monitor /var/log/egress-monitor"
prepare_data_dirs() {  # [GROUP]; SETGID=1 without GROUP (fake root: the mode, not the group)
    local group=${1:-} d f
    for d in $data_dirs; do
        record_attr "$d"
        if [ -n "$group" ]; then
            while IFS= read -r -d '' f; do
                record_attr "${f#"$root"}"
            done < <(find "$root$d" -path "$mdir" -prune -o ! -type l ! -group "$group" -print0)
            find "$root$d" -path "$mdir" -prune -o ! -type l ! -group "$group" -exec chgrp "$group" {} +
        fi
        if [ -n "$group" ] || [ "${SETGID:-0}" -eq 1 ]; then
            chmod 2750 "$root$d"
        else
            chmod 00750 "$root$d"
        fi
    done
}
# uninstall.sh, after the files went: what was written since in the group's directories goes
# back to root's group (the group may be deleted next), the setgid bit goes, then the
# recorded originals come back.
restore_data_dirs() {  # [GID]
    local gid=${1:-} d
    for d in $data_dirs; do
        [ -d "$root$d" ] || continue
        if [ -n "$gid" ]; then
            find "$root$d" -path "$mdir" -prune -o -group "$gid" -exec chgrp -h 0 {} +
        fi
        chmod g-s "$root$d"
    done
    restore_attrs
}

upstreams_from() {  # nameserver lines of a resolv.conf that are not this host's loopback
    [ -f "$1" ] || return 0
    awk '$1 == "nameserver" && $2 !~ /^127\./ && $2 != "::1" && $2 != "0.0.0.0" { print $2 }' "$1"
}

have_systemd() { [ -d /run/systemd/system ]; }
restart_service() {
    if have_systemd; then systemctl restart "$1"; else service "$1" restart; fi
}
service_running() {
    if have_systemd; then systemctl is-active --quiet "$1"; else service "$1" status >/dev/null 2>&1; fi
}
start_service() {  # starts a service that is not running, and records that it did
    service_running "$1" && return 0
    if have_systemd; then
        systemctl enable --now "$1" >/dev/null 2>&1 || systemctl start "$1"
    else
        service "$1" start
    fi
    manifest_add started "$1"
}
stop_service() {
    if have_systemd; then systemctl disable --now "$1" >/dev/null 2>&1 || true
    else service "$1" stop >/dev/null 2>&1 || true; fi
}

# A subcommand of the installed binary, `egress-monitor NAME --config ...` with NAME = agent
# or serve, run as a service: its unit egress-monitor-NAME.service where systemd is PID 1
# ("NAME systemd" in the manifest), else a background process started with setsid, stderr
# appended to /var/log/egress-monitor/NAME.log, its pid in the manifest ("NAME-pid PID") and
# in /run/egress-monitor-NAME.pid. A pid counts as that process only while its command line
# is the installed binary's NAME and it is not a zombie, so a recycled pid is never signalled.
em_bin=/usr/local/sbin/egress-monitor
em_what() { if [ "$1" = serve ]; then echo "the endpoint (egress-monitor serve)"; else echo "the $1"; fi; }
bg_alive() {  # NAME PID
    local name=$1 pid=$2 state
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != Z ] && [ "$state" != X ] || return 1
    [ "$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 2 | paste -sd ' ')" = "$em_bin $name" ]
}
bg_stop() {  # NAME PID: SIGTERM, up to 10 s to exit (the agent removes its table), then SIGKILL
    local name=$1 pid=$2
    bg_alive "$name" "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        bg_alive "$name" "$pid" || return 0
        sleep 0.1
    done
    warn "$(em_what "$name") (pid $pid) did not stop within 10 s of SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}
bg_start() {  # NAME
    local name=$1 log=/var/log/egress-monitor/$1.log new="$mdir/$1.pid.new" pid
    say "starting $(em_what "$name") without systemd (log: $log)"
    # The shell writes its own pid, then becomes the process: the recorded pid is the
    # process's whether or not setsid had to fork.
    # shellcheck disable=SC2016  # $$ and "$@" belong to the inner shell
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$new" \
        "$em_bin" "$name" --config /etc/egress-monitor/config.toml </dev/null >>"$log" 2>&1 &
    for _ in $(seq 50); do [ -s "$new" ] && break; sleep 0.1; done
    pid=$(cat "$new" 2>/dev/null || true)
    rm -f "$new"
    [ -n "$pid" ] || die "$(em_what "$name") did not start; see $log"
    manifest_set "$name-pid" "$pid"
    echo "$pid" | write_file "/run/egress-monitor-$name.pid" 0644
    sleep 1
    bg_alive "$name" "$pid" || die "$(em_what "$name") exited at once; $log ends with:
$(tail -n 5 "$log")"
}
# install.sh: starts egress-monitor NAME, or restarts it when this run changed a file
# (binary, config, unit, credentials); left alone when it runs and nothing changed.
em_service_up() {  # NAME
    local name=$1 unit=egress-monitor-$1.service pid
    if have_systemd; then
        say "starting $unit"
        systemctl daemon-reload
        manifest_set "$name" systemd
        systemctl enable "$unit" >/dev/null 2>&1 || die "systemctl enable $unit failed"
        if [ "$files_changed" -gt 0 ]; then
            systemctl restart "$unit"
        else
            systemctl start "$unit"  # a no-op when it runs
        fi
        sleep 1
        systemctl is-active --quiet "$unit" || die "$unit is not running; see: journalctl -u $unit"
    else
        pid=$(manifest_get "$name-pid")
        if bg_alive "$name" "$pid" && [ "$files_changed" -eq 0 ]; then
            say "$(em_what "$name") is already running (pid $pid)"
        else
            [ -n "$pid" ] && bg_stop "$name" "$pid"
            bg_start "$name"
        fi
        warn "systemd is not PID 1: nothing restarts $(em_what "$name") after a crash or a" \
            "reboot; run install.sh again to start it"
    fi
}
# uninstall.sh: stops and disables egress-monitor NAME, however install.sh started it.
em_service_down() {  # NAME
    local name=$1 unit=egress-monitor-$1.service pid
    if grep -qx "$name systemd" "$manifest" || { have_systemd &&
        grep -qx "created /etc/systemd/system/$unit" "$manifest"; }; then
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
    fi
    pid=$(manifest_get "$name-pid")
    [ -n "$pid" ] && bg_stop "$name" "$pid"
    return 0
}
