#!/bin/sh
# egress-monitor cron wrapper: one consolidate run; failures go to syslog and to cron's mail.
out=$(timeout 300 /usr/local/sbin/egress-monitor consolidate \
    --config /etc/egress-monitor/config.toml 2>&1)
rc=$?
if [ -n "$out" ]; then
    printf '%s\n' "$out" | logger -t egress-monitor 2>/dev/null || true
    printf '%s\n' "$out" >&2
fi
exit $rc
