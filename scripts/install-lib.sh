# Shared by install.sh and uninstall.sh (sourced): paths under $root, and the manifest of
# what install.sh changed — one "KIND PATH" per line, KIND = created | modified | dir |
# firewall — with the original of every modified file kept under backup/ (cp -a: content,
# mode, owner, symlinks).
say() { echo "egress-monitor: $*"; }
warn() { echo "egress-monitor: warning: $*" >&2; }
die() { echo "egress-monitor: error: $*" >&2; exit 1; }

state_rel=/var/lib/egress-monitor/install
manifest_init() {
    mdir="$root$state_rel"
    manifest="$mdir/manifest"
    # The manifest's own directories are recorded first so that uninstall removes them last.
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
    touch "$manifest"
    for p in "${made[@]}"; do manifest_add dir "$p"; done
}
manifest_has() { grep -q " $1\$" "$manifest"; }
manifest_add() { manifest_has "$2" || echo "$1 $2" >>"$manifest"; }

ensure_dir() {  # mkdir -p, recording each directory it creates
    local d=$1 parts="" p
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
write_file() {  # stdin → $root$1 with mode $2; a symlink in the way is replaced by a file
    local p=$1 mode=$2
    track "$p"
    [ -L "$root$p" ] && rm -f "$root$p"
    cat >"$root$p.egress-monitor.tmp"
    chmod "$mode" "$root$p.egress-monitor.tmp"
    mv -f "$root$p.egress-monitor.tmp" "$root$p"
}
install_file() { write_file "$2" "$3" <"$1"; }

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
