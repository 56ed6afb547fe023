#!/bin/bash
# `egress-monitor alerts` against a real history database: list (text and JSON) with a
# host-reported message carrying a terminal escape, ack, silence, allow, audit — options
# before or after the action — and the refusals (unknown id, bad allow value, a silence of
# everything).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${EGRESS_MONITOR:-$PWD/build/egress-monitor}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
printf '[history]\npath = "%s/h.sqlite"\n[rules.public_resolver]\nenabled = false\n' "$work" >"$work/c.toml"
a() { "$bin" alerts "$@" --config "$work/c.toml"; }

a list 2>"$work/err" && fail "alerts ran without a history"
grep -q "no history at $work/h.sqlite" "$work/err" || fail "missing history: $(cat "$work/err")"
"$bin" report --config "$work/c.toml" >/dev/null  # creates the history, as the collector does
sqlite3 "$work/h.sqlite" "INSERT INTO alerts(host, rule, key, state, first_seen, last_seen,
    occurrences, message, changed, id, weight, notified_weight) VALUES('web1', 'direct_ip',
    '203.0.113.9', 'open', 1795347335, 1795347335, 1, 'x' || char(27) || '[2J y', 1795347335,
    1, 1, 1)"

text=$(a list)
grep -qF '#1     OPEN     direct_ip web1 203.0.113.9' <<<"$text" || fail "list: $text"
grep -qF 'x\x1b[2J y' <<<"$text" || fail "the escape byte is not escaped: $text"
json=$(a list --format json)
grep -qF '"message":"x\u001b[2J y"' <<<"$json" || fail "JSON: $json"

a ack 7 --reason x 2>"$work/err" && fail "ack of an unknown id succeeded"
grep -q "alert 7: no open alert has this id" "$work/err" || fail "ack error: $(cat "$work/err")"
a ack 1 --reason "ticket 4711" >/dev/null
"$bin" alerts --config "$work/c.toml" silence --rule direct_ip --for 7d --reason "office move" >/dev/null
a silence --for 1h --reason all 2>/dev/null && fail "a silence of everything was accepted"
a allow 'Evil.Example' --reason x 2>/dev/null && fail "a bad allow value was accepted"
out=$(a allow 203.0.113.0/24 --reason partner)
grep -q "it explains 1 open alert" <<<"$out" || fail "allow: $out"

text=$(a list)
grep -q '\[acked by .* at .*\] \[silenced until ' <<<"$text" || fail "marks: $text"
audit=$(a audit)
[ "$(wc -l <<<"$audit")" -eq 3 ] || fail "audit: $audit"
grep -q ' ack #1 direct_ip web1 203.0.113.9: ticket 4711$' <<<"$audit" || fail "audit ack: $audit"
grep -q ' silence silence #1 host=\* rule=direct_ip key=\* until .*: office move$' <<<"$audit" ||
    fail "audit silence: $audit"
echo "alerts_cli: list/ack/silence/allow/audit on a real history; escapes kept; refusals named"
