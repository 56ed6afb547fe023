#!/bin/sh
# Benchmark: `egress-monitor consolidate` against the mawk baseline (bench/baseline.awk) on the
# same generated logs, side by side, interleaved, in one run; then the re-run with nothing new.
# Also checks that both produce identical files.
#   bench/run.sh            5M dnsmasq lines + 5M kernel lines (about 1.5 GB)
#   bench/run.sh --quick    200k + 200k
# Needs GNU time (/usr/bin/time, package "time") and mawk: scripts/deps.sh test installs them.
set -eu
cd "$(dirname "$0")/.."
lines=5000000 rounds=3
[ "${1:-}" = "--quick" ] && lines=200000
export TZ=UTC

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target egress-monitor gen_logs >/dev/null
bin=build/egress-monitor

data=bench/out/data-$lines
if [ ! -s "$data/kern.log" ]; then
    echo "generating $lines + $lines lines into $data" >&2
    mkdir -p "$data"
    build/bench/gen_logs --dnsmasq "$lines" --kernel "$lines" --out "$data"
fi
dns_mb=$(($(stat -c %s "$data/dnsmasq.log") / 1000000))
kern_mb=$(($(stat -c %s "$data/kern.log") / 1000000))
total_mb=$((dns_mb + kern_mb))
cat "$data/dnsmasq.log" "$data/kern.log" >/dev/null  # warm page cache

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
measure() {  # label command... → appends "label wall user sys maxrss_kb" to $work/times
    label=$1; shift
    /usr/bin/time -f "$label %e %U %S %M" -a -o "$work/times" "$@"
}
i=1
while [ "$i" -le "$rounds" ]; do
    rm -rf "$work/state" "$work/out" "$work/awk"
    measure consolidate "$bin" consolidate --dnsmasq-log "$data/dnsmasq.log" \
        --kernel-log "$data/kern.log" --state-dir "$work/state" --output-dir "$work/out"
    measure mawk bench/baseline.sh "$data/dnsmasq.log" "$data/kern.log" "$work/awk"
    i=$((i + 1))
done
j=1
while [ "$j" -le 7 ]; do  # GNU time has 10 ms resolution: time the re-run in ns
    t0=$(date +%s%N)
    "$bin" consolidate --dnsmasq-log "$data/dnsmasq.log" --kernel-log "$data/kern.log" \
        --state-dir "$work/state" --output-dir "$work/out"
    t1=$(date +%s%N)
    echo "rerun $(((t1 - t0) / 1000)) 0 0 0" >>"$work/times"
    j=$((j + 1))
done
measure rerun_rss "$bin" consolidate --dnsmasq-log "$data/dnsmasq.log" \
    --kernel-log "$data/kern.log" --state-dir "$work/state" --output-dir "$work/out"

if cmp -s "$work/out/unique-domains.log" "$work/awk/unique-domains.log" &&
    cmp -s "$work/out/unique-ips.log" "$work/awk/unique-ips.log"; then
    same="identical"
else
    same="DIFFERENT"
fi

median() { grep "^$1 " "$work/times" | awk -v c="$2" '{print $c}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c_wall=$(median consolidate 2) c_user=$(median consolidate 3) c_sys=$(median consolidate 4) c_rss=$(median consolidate 5)
a_wall=$(median mawk 2) a_user=$(median mawk 3) a_sys=$(median mawk 4)
r_us=$(median rerun 2) r_rss=$(median rerun_rss 5)
domains=$(wc -l <"$work/out/unique-domains.log") ips=$(wc -l <"$work/out/unique-ips.log")

awk -v mb="$total_mb" -v dmb="$dns_mb" -v kmb="$kern_mb" -v lines="$lines" \
    -v cw="$c_wall" -v cu="$c_user" -v cs="$c_sys" -v crss="$c_rss" \
    -v aw="$a_wall" -v au="$a_user" -v as="$a_sys" -v rus="$r_us" -v rrss="$r_rss" \
    -v same="$same" -v nd="$domains" -v ni="$ips" -v rounds="$rounds" 'BEGIN {
    printf "input: %d dnsmasq lines (%d MB) + %d kernel lines (%d MB) = %d MB; %d domains, %d addresses\n", lines, dmb, lines, kmb, mb, nd, ni
    printf "medians of %d interleaved runs, warm page cache, %s\n\n", rounds, "2 cores"
    printf "%-26s %9s %9s %10s %12s %10s\n", "", "wall s", "cpu s", "MB/s", "lines/s", "peak RSS"
    printf "%-26s %9.2f %9.2f %10.0f %12.0f %8.0f MB\n", "egress-monitor consolidate", cw, cu + cs, mb / cw, 2 * lines / cw, crss / 1024
    printf "%-26s %9.2f %9.2f %10.0f %12.0f %10s\n", "mawk baseline", aw, au + as, mb / aw, 2 * lines / aw, "-"
    printf "\nspeed-up vs mawk: %.1fx    re-run with nothing new: %.1f ms (peak RSS %.0f MB)\n", aw / cw, rus / 1000, rrss / 1024
    printf "files: consolidate and mawk baseline %s\n", same
}'
[ "$same" = identical ]
