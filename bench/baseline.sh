#!/bin/sh
# The awk baseline end to end: aggregate with mawk, then sort as consolidate does.
#   bench/baseline.sh DNSLOG KERNLOG OUTDIR [PREFIX] [YEAR]
set -eu
dns=$1 kern=$2 out=$3 prefix=${4:-EGRESS: } year=${5:-2026}
here=$(dirname "$0")
mkdir -p "$out"
LC_ALL=C mawk -v dns="$dns" -v prefix="$prefix" -v year="$year" \
    -v dout="$out/.domains.unsorted" -v iout="$out/.ips.unsorted" \
    -f "$here/baseline.awk" "$dns" "$kern"
LC_ALL=C sort "$out/.domains.unsorted" >"$out/unique-domains.log"
LC_ALL=C sort "$out/.ips.unsorted" | cut -d' ' -f2- >"$out/unique-ips.log"
rm -f "$out/.domains.unsorted" "$out/.ips.unsorted"
