#!/bin/sh
# egress-monitor collector mode where systemd is not PID 1 (install.sh --mode collector):
# keeps `egress-monitor collect` and `egress-monitor dashboard` running in the background.
# cron runs `start` every minute, so either comes back within a minute of a crash or a boot;
# install.sh runs it once at install, uninstall.sh runs `stop`. Where systemd is PID 1 it does
# nothing: the units egress-monitor-collect and egress-monitor-dashboard run them.
#   collector-bg.sh start|stop|status collect|dashboard
# - The pid is in /run/egress-monitor-NAME.pid; it counts as NAME's only while that process's
#   command line is the binary's NAME and it is no zombie, so a recycled pid is never signalled.
# - collect runs as egress-collector (setpriv: its uid, gid and groups, no capability); the
#   dashboard starts as root to bind and read its key and token, then becomes that user itself.
# - Output is appended to /var/log/egress-monitor/NAME.log (root's directory).
# - collect is not started while the inventory has no [[host]], nor the dashboard by a binary
#   without that subcommand: both are a quiet success, tried again at the next minute.
# EM_BIN, EM_ETC, EM_RUN, EM_LOGS, EM_USER (empty: no user change) are for tests only.
set -eu
em=${EM_BIN:-/usr/local/sbin/egress-monitor}
etc=${EM_ETC:-/etc/egress-monitor}
run=${EM_RUN:-/run}
logs=${EM_LOGS:-/var/log/egress-monitor}
user=${EM_USER-egress-collector}
interval=@INTERVAL@

usage() { echo "usage: $0 start|stop|status collect|dashboard" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1 name=$2
case "$name" in collect | dashboard) ;; *) usage ;; esac
pidfile=$run/egress-monitor-$name.pid

alive() {  # PID: the binary's $name, running as root or the service's user
    [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    case "$state" in Z | X | "") return 1 ;; esac
    # Anyone may run the binary with the same arguments: a process of another user holding
    # a recycled pid is not ours (neither to report as running nor to signal).
    ruid=$(awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
    [ "$ruid" = 0 ] || { [ -n "$user" ] && [ "$ruid" = "$(id -u "$user" 2>/dev/null)" ]; } || return 1
    [ "$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 2 | paste -sd ' ')" = "$em $name" ]
}
pid=$(cat "$pidfile" 2>/dev/null || true)

case "$action" in
status)
    if alive "$pid"; then echo "$name: running (pid $pid)"; exit 0; fi
    echo "$name: not running"
    exit 3
    ;;
stop)
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while alive "$pid" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        if alive "$pid"; then
            echo "egress-monitor: $name (pid $pid) did not stop within 30 s of SIGTERM; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile" "$pidfile.new" "$pidfile.lock"
    exit 0
    ;;
start) ;;
*) usage ;;
esac

[ ! -d /run/systemd/system ] || [ -n "${EM_RUN:-}" ] || exit 0
# One start at a time (cron and install.sh may meet); the lock is not passed on to the child.
exec 9>"$pidfile.lock"
flock -n 9 || exit 0
pid=$(cat "$pidfile" 2>/dev/null || true)
alive "$pid" && exit 0

if [ "$name" = collect ]; then
    grep -Eq '^[[:space:]]*\[\[[[:space:]]*host[[:space:]]*\]\]' "$etc/inventory.toml" 2>/dev/null || exit 0
    set -- "$em" collect --config "$etc/collector.toml" --inventory "$etc/inventory.toml" \
        --interval "$interval"
    [ -z "$user" ] || set -- setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs -- "$@"
else
    "$em" dashboard --help >/dev/null 2>&1 || exit 0
    # The history made by its user first: the dashboard opens it as root, then drops privileges.
    if [ -n "$user" ]; then
        setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs -- \
            "$em" report --config "$etc/collector.toml" >/dev/null 2>>"$logs/$name.log" || true
    fi
    set -- "$em" dashboard --config "$etc/collector.toml"
fi
rm -f "$pidfile.new"
# The shell writes its own pid, then becomes the process (setpriv execs it too): the pid
# recorded is the process's, whether or not setsid had to fork.
# shellcheck disable=SC2016  # $$ and "$@" belong to the inner shell
setsid sh -c 'echo $$ >"$0.new"; exec "$@"' "$pidfile" "$@" \
    </dev/null >>"$logs/$name.log" 2>&1 9>&- &
i=0
while [ ! -s "$pidfile.new" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
mv -f "$pidfile.new" "$pidfile" 2>/dev/null || { echo "egress-monitor: $name did not start; see $logs/$name.log" >&2; exit 1; }
pid=$(cat "$pidfile")
sleep 1
if ! alive "$pid"; then
    echo "egress-monitor: $name exited at once; $logs/$name.log ends with:" >&2
    tail -n 5 "$logs/$name.log" >&2
    exit 1
fi
echo "egress-monitor: $name started (pid $pid, output in $logs/$name.log)"
