#!/bin/bash
# A full disk: with the output directory (then the state directory) on a tiny tmpfs,
# consolidate exits non-zero with a message naming the path and the errno text, the previous
# files stay byte-identical, and no temporary file is left behind. Once space is back, the
# next run catches up exactly.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root to mount a tmpfs" >&2; exit 77; }
bin=${EGRESS_MONITOR:-build/egress-monitor}
gen=${GEN_LOGS:-build/bench/gen_logs}
export TZ=UTC
work=$(mktemp -d)
mounts=()
cleanup() { for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work/small" "$work/big" "$work/tinyout" "$work/tinystate"
"$gen" --dnsmasq 200 --kernel 200 --out "$work/small" --seed 1 --domains 20 --ips 20
"$gen" --dnsmasq 40000 --kernel 40000 --out "$work/big" --seed 2 --domains 5000 --ips 8000
cp "$work/small/dnsmasq.log" "$work/dnsmasq.log"
cp "$work/small/kern.log" "$work/kern.log"
grow() { cat "$work/big/dnsmasq.log" >>"$work/dnsmasq.log"; cat "$work/big/kern.log" >>"$work/kern.log"; }

# 1. Output directory full.
mount -t tmpfs -o size=64k tmpfs "$work/tinyout"; mounts+=("$work/tinyout")
run1() { "$bin" consolidate --dnsmasq-log "$work/dnsmasq.log" --kernel-log "$work/kern.log" \
    --state-dir "$work/state1" --output-dir "$work/tinyout"; }
run1 || fail "first run failed"
sha=$(cd "$work/tinyout" && sha256sum unique-domains.log unique-ips.log)
grow
if run1 2>"$work/err"; then fail "run with a full output disk succeeded"; fi
grep -q "No space left on device" "$work/err" || fail "message lacks errno text: $(cat "$work/err")"
grep -q "$work/tinyout" "$work/err" || fail "message lacks the path: $(cat "$work/err")"
[ "$(cd "$work/tinyout" && sha256sum unique-domains.log unique-ips.log)" = "$sha" ] || fail "previous files changed"
[ -z "$(ls -A "$work/tinyout" | grep -v '^unique-')" ] || fail "temporary files left: $(ls -A "$work/tinyout")"
[ "$(wc -l <"$work/err")" -eq 1 ] || fail "not a one-line reason: $(cat "$work/err")"
# Space back: the committed counts are rendered, exactly.
umount "$work/tinyout"; mounts=()
run1 || fail "run after space came back failed"
bench/baseline.sh "$work/dnsmasq.log" "$work/kern.log" "$work/expected"
cmp -s "$work/tinyout/unique-domains.log" "$work/expected/unique-domains.log" || fail "domains after recovery"
cmp -s "$work/tinyout/unique-ips.log" "$work/expected/unique-ips.log" || fail "ips after recovery"

# 2. State directory full: the ledger cannot commit; the files stay as they were.
cp "$work/small/dnsmasq.log" "$work/dnsmasq.log"
cp "$work/small/kern.log" "$work/kern.log"
mount -t tmpfs -o size=256k tmpfs "$work/tinystate"; mounts+=("$work/tinystate")
run2() { "$bin" consolidate --dnsmasq-log "$work/dnsmasq.log" --kernel-log "$work/kern.log" \
    --state-dir "$work/tinystate" --output-dir "$work/out2"; }
run2 || fail "first state run failed"
sha=$(cd "$work/out2" && sha256sum unique-domains.log unique-ips.log)
grow
if run2 2>"$work/err2"; then fail "run with a full state disk succeeded"; fi
grep -qiE "full|No space left" "$work/err2" || fail "unclear message: $(cat "$work/err2")"
grep -q "$work/tinystate" "$work/err2" || fail "message lacks the path: $(cat "$work/err2")"
[ "$(cd "$work/out2" && sha256sum unique-domains.log unique-ips.log)" = "$sha" ] || fail "files changed"
echo "enospc: full output and state directories fail cleanly; recovery is exact"
echo "  output: $(cat "$work/err")"
echo "  state:  $(cat "$work/err2")"
