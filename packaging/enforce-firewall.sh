#!/bin/sh
# egress-monitor enforce: the firewall rules that feed its queues (docs/enforce.md, "The
# firewall rules"), in chains of their own, installed by `install.sh --enforce` as
# /usr/local/lib/egress-monitor/enforce-firewall.sh and run by egress-monitor-enforce.service.
#   enforce-firewall.sh up|down|stopped [CONFIG]     (CONFIG: /etc/egress-monitor/enforce.toml)
# up       reads the queues from `egress-monitor enforce --check` (the inbound DNS queue, one
#          filter's DNS and traffic queues, and selfDNSQueue matched by the unit's cgroup),
#          waits up to 30 s until the kernel lists every one as bound by enforce
#          (/proc/net/netfilter/nfnetlink_queue), then builds the chains EGRESS_ENFORCE_IN and
#          EGRESS_ENFORCE_OUT (iptables and ip6tables) and jumps to them first from INPUT and
#          OUTPUT. Loopback is never queued, either way: a resolver on the host (dnsmasq in
#          cron mode, systemd-resolved's stub) answers its clients over lo, and those answers,
#          to queries enforce never saw, would be dropped; enforce judges the resolver's own
#          queries and answers on the way out instead.
# down     removes the jumps and the chains; no other rule is touched.
# stopped  ExecStopPost: `down` after a clean stop only. After a crash the rules stay and the
#          kernel drops what they queue (fail closed) until systemd has enforce back.
# More than one filter (per-user filters) needs rules of your own: see docs/enforce.md.
set -eu
em=${EM_BIN:-/usr/local/sbin/egress-monitor}
cgroup=${EM_ENFORCE_CGROUP:-system.slice/egress-monitor-enforce.service}
wait_s=${EM_ENFORCE_WAIT:-30}  # EM_*: for tests
action=${1:-}
config=${2:-/etc/egress-monitor/enforce.toml}
die() { echo "enforce-firewall: $*" >&2; exit 1; }

down() {
    for ipt in iptables ip6tables; do
        command -v "$ipt" >/dev/null 2>&1 || continue
        while "$ipt" -D OUTPUT -j EGRESS_ENFORCE_OUT 2>/dev/null; do :; done
        while "$ipt" -D INPUT -j EGRESS_ENFORCE_IN 2>/dev/null; do :; done
        for c in EGRESS_ENFORCE_OUT EGRESS_ENFORCE_IN; do
            "$ipt" -F "$c" 2>/dev/null || true
            "$ipt" -X "$c" 2>/dev/null || true
        done
    done
}

case "$action" in
down) down; exit 0 ;;
stopped)
    # systemd sets SERVICE_RESULT: "success" for a stop that was asked for.
    [ "${SERVICE_RESULT:-success}" = success ] && down
    exit 0
    ;;
up) ;;
*) echo "usage: $0 up|down|stopped [CONFIG]" >&2; exit 2 ;;
esac

check=$("$em" enforce --config "$config" --check) || die "$config is refused (see above)"
# "KIND FAMILY QUEUE" lines (KIND in, self, dns, traffic; "-": not set) from --check's summary.
queues=$(printf '%s\n' "$check" | awk '
    function pair(kind, text) {
        if (!match(text, kind " queue ipv4 [0-9-]+, ipv6 [0-9-]+")) return ""
        split(substr(text, RSTART, RLENGTH), f, /[ ,]+/)
        return f[n + 3] " " f[n + 5]
    }
    NR == 1 {
        n = 2; split(pair("inbound DNS", $0), q, " "); print "in ipv4 " q[1]; print "in ipv6 " q[2]
        n = 2; split(pair("self DNS", $0), q, " ")
        if (q[1] != "") { print "self ipv4 " q[1]; print "self ipv6 " q[2] }
        if (match($0, /\(filter [^)]*\)/)) self = substr($0, RSTART + 8, RLENGTH - 9)
        next
    }
    /^filter / {
        name = $2; sub(/:$/, "", name)
        if (name == self) next
        if (++filters > 1) { print "error more than one filter"; exit }
        n = 1; split(pair("DNS", $0), q, " "); print "dns ipv4 " q[1]; print "dns ipv6 " q[2]
        n = 1; split(pair("traffic", $0), q, " "); print "traffic ipv4 " q[1]; print "traffic ipv6 " q[2]
    }')
case "$queues" in *error*) die "more than one filter in $config: write their rules yourself (docs/enforce.md)" ;; esac
printf '%s\n' "$queues" | grep -q '^in ipv4 [0-9]' || die "no inbound DNS queue in enforce --check's summary: $check"

# enforce binds its queues after it starts: wait for the kernel to list each of them.
wanted=$(printf '%s\n' "$queues" | awk '$3 != "-" { print $3 }' | sort -u)
i=0
while :; do
    missing=""
    for q in $wanted; do
        awk -v q="$q" '$1 == q { f = 1 } END { exit !f }' /proc/net/netfilter/nfnetlink_queue 2>/dev/null ||
            missing="$missing $q"
    done
    [ -z "$missing" ] && break
    i=$((i + 1))
    [ $i -le $((wait_s * 10)) ] || die "enforce has not bound queue(s)$missing within $wait_s s; no rules loaded"
    sleep 0.1
done

down
# A start that fails half-way (ip6tables missing its module, IPv6 disabled) removes what it
# loaded: fail closed is for a working enforce that crashed, not for one never started.
trap 'down' EXIT
for fam in ipv4 ipv6; do
    ipt=iptables
    [ "$fam" = ipv6 ] && ipt=ip6tables
    command -v "$ipt" >/dev/null 2>&1 || die "$ipt not found"
    get() { printf '%s\n' "$queues" | awk -v k="$1" -v f="$fam" '$1 == k && $2 == f && $3 != "-" { print $3 }'; }
    "$ipt" -N EGRESS_ENFORCE_IN
    "$ipt" -N EGRESS_ENFORCE_OUT
    "$ipt" -A EGRESS_ENFORCE_IN -i lo -j RETURN
    q=$(get in)
    if [ -n "$q" ]; then
        for p in udp tcp; do "$ipt" -A EGRESS_ENFORCE_IN -p "$p" --sport 53 -j NFQUEUE --queue-num "$q"; done
    fi
    "$ipt" -A EGRESS_ENFORCE_OUT -o lo -j RETURN
    q=$(get self)
    if [ -n "$q" ]; then
        for p in udp tcp; do
            "$ipt" -A EGRESS_ENFORCE_OUT -p "$p" --dport 53 -m cgroup --path "$cgroup" -j NFQUEUE --queue-num "$q"
        done
    fi
    q=$(get dns)
    if [ -n "$q" ]; then
        for p in udp tcp; do "$ipt" -A EGRESS_ENFORCE_OUT -p "$p" --dport 53 -j NFQUEUE --queue-num "$q"; done
    fi
    q=$(get traffic)
    [ -z "$q" ] || "$ipt" -A EGRESS_ENFORCE_OUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num "$q"
    "$ipt" -I INPUT 1 -j EGRESS_ENFORCE_IN
    "$ipt" -I OUTPUT 1 -j EGRESS_ENFORCE_OUT
done
trap - EXIT
echo "enforce-firewall: rules loaded for $config"
