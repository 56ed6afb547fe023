#!/bin/sh
# Benchmark: `egress-monitor consolidate` against the mawk baseline (bench/baseline.awk) on the
# same generated logs, side by side, interleaved, in one run; then the re-run with nothing new.
# Also checks that both produce identical files. Two profiles of the same mix, run together:
#   default            10,000 domains, 20,000 keys → about 40,000 addresses (IPv4 + IPv6)
#   high-cardinality   50,000 domains, 85,000 keys → about 170,000 addresses
#
#   bench/run.sh                      both profiles, 5M dnsmasq + 5M kernel lines each (~1.5 GB)
#   bench/run.sh --quick              both profiles, 200k + 200k
#   bench/run.sh --profile NAME       one profile (repeat the flag for several)
#   bench/run.sh --rounds N           interleaved runs per profile (default 3; medians shown)
# Needs GNU time (/usr/bin/time, package "time") and mawk: scripts/deps.sh test installs them.
set -eu
cd "$(dirname "$0")/.."
lines=5000000 rounds=3 profiles=""
while [ $# -gt 0 ]; do
    case $1 in
        --quick) lines=200000 ;;
        --profile) profiles="$profiles ${2:?--profile needs a name}"; shift ;;
        --rounds) rounds=${2:?--rounds needs a number}; shift ;;
        *) echo "usage: bench/run.sh [--quick] [--profile default|high-cardinality]... [--rounds N]" >&2
           exit 2 ;;
    esac
    shift
done
[ -n "$profiles" ] || profiles="default high-cardinality"
export TZ=UTC

gen_args() {  # profile → gen_logs key counts
    case $1 in
        default) echo "--domains 10000 --ips 20000" ;;
        high-cardinality) echo "--domains 50000 --ips 85000" ;;
        *) echo "unknown profile: $1" >&2; return 1 ;;
    esac
}
for p in $profiles; do gen_args "$p" >/dev/null; done

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target egress-monitor gen_logs >/dev/null
bin=build/egress-monitor

set_data() {  # PROFILE → $data, its logs' directory (the default profile keeps its old one)
    if [ "$1" = default ]; then data="bench/out/data-$lines"; else data="bench/out/data-$1-$lines"; fi
}
for p in $profiles; do
    set_data "$p"
    if [ ! -s "$data/kern.log" ]; then
        echo "generating $lines + $lines lines ($p) into $data" >&2
        mkdir -p "$data"
        # shellcheck disable=SC2046 # one word per argument
        build/bench/gen_logs --dnsmasq "$lines" --kernel "$lines" $(gen_args "$p") --out "$data"
    fi
    cat "$data/dnsmasq.log" "$data/kern.log" >/dev/null  # warm page cache
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
measure() {  # label command... → appends "label wall user sys maxrss_kb" to $work/times
    label=$1; shift
    /usr/bin/time -f "$label %e %U %S %M" -a -o "$work/times" "$@"
}
consolidate() {  # LABEL|- PROFILE → consolidate on the profile's logs, timed under LABEL
    set_data "$2"
    set -- "$1" "$bin" consolidate --dnsmasq-log "$data/dnsmasq.log" --kernel-log "$data/kern.log" \
        --state-dir "$work/$2/state" --output-dir "$work/$2/out"
    if [ "$1" = - ]; then shift; "$@"; else measure "$@"; fi
}
i=1
while [ "$i" -le "$rounds" ]; do  # interleaved: profile by profile, consolidate then mawk
    for p in $profiles; do
        rm -rf "${work:?}/$p"
        consolidate "$p.consolidate" "$p"
        set_data "$p"
        measure "$p.mawk" bench/baseline.sh "$data/dnsmasq.log" "$data/kern.log" "$work/$p/awk"
    done
    i=$((i + 1))
done
for p in $profiles; do
    j=1
    while [ "$j" -le 7 ]; do  # GNU time has 10 ms resolution: time the re-run in ns
        t0=$(date +%s%N)
        consolidate - "$p"
        t1=$(date +%s%N)
        echo "$p.rerun $(((t1 - t0) / 1000)) 0 0 0" >>"$work/times"
        j=$((j + 1))
    done
    consolidate "$p.rerun_rss" "$p"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { grep "^$1 " "$work/times" | awk -v c="$2" '{print $c}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "medians of %d interleaved runs, warm page cache, %d cores; load average %s before, %s after\n" \
    "$rounds" "$(nproc)" "$load_before" "$load_after"
printf "\n%-28s %8s %8s %8s %11s %9s %8s %9s  %s\n" "" "wall s" "cpu s" "MB/s" "lines/s" "peak RSS" \
    "x mawk" "re-run" "files"
status=0
for p in $profiles; do
    set_data "$p"
    out="$work/$p/out" awk="$work/$p/awk"
    if cmp -s "$out/unique-domains.log" "$awk/unique-domains.log" &&
        cmp -s "$out/unique-ips.log" "$awk/unique-ips.log"; then
        same="identical"
    else
        same="DIFFERENT"
        status=1
    fi
    awk -v p="$p" -v lines="$lines" \
        -v dmb="$(($(stat -c %s "$data/dnsmasq.log") / 1000000))" \
        -v kmb="$(($(stat -c %s "$data/kern.log") / 1000000))" \
        -v nd="$(wc -l <"$out/unique-domains.log")" -v ni="$(wc -l <"$out/unique-ips.log")" \
        -v cw="$(median "$p.consolidate" 2)" -v cu="$(median "$p.consolidate" 3)" \
        -v cs="$(median "$p.consolidate" 4)" -v crss="$(median "$p.consolidate" 5)" \
        -v aw="$(median "$p.mawk" 2)" -v au="$(median "$p.mawk" 3)" -v as="$(median "$p.mawk" 4)" \
        -v rus="$(median "$p.rerun" 2)" -v rrss="$(median "$p.rerun_rss" 5)" -v same="$same" 'BEGIN {
        mb = dmb + kmb
        printf "%s: %d + %d lines, %d MB; %d domains, %d addresses\n", p, lines, lines, mb, nd, ni
        printf "  %-26s %8.2f %8.2f %8.0f %11.0f %6.0f MB %7.1fx %6.1f ms  %s\n", "egress-monitor consolidate",
            cw, cu + cs, mb / cw, 2 * lines / cw, crss / 1024, aw / cw, rus / 1000, same
        printf "  %-26s %8.2f %8.2f %8.0f %11.0f\n", "mawk baseline", aw, au + as, mb / aw, 2 * lines / aw
    }'
done
printf "\n(re-run: consolidate again with nothing new; its peak RSS:"
for p in $profiles; do printf " %s %.0f MB" "$p" "$(($(median "$p.rerun_rss" 5) / 1024))"; done
printf ")\n"
exit "$status"
