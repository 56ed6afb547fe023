#!/bin/sh
# The dga rule's figures: false positives on dnsrecon's subdomain list (114,606 names; never
# used in training) and recall on generated families. Uses the installed list when the
# dnsrecon package is installed; else downloads the package (not its Python dependencies)
# with apt-get and unpacks only that file into a cache directory.
#   bench/dga_eval.sh [BUILD_DIR] [dga_eval options]
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
list=/usr/share/dnsrecon/subdomains-top1mil.txt
if [ ! -r "$list" ]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/egress-monitor/dnsrecon
    list=$cache/usr/share/dnsrecon/subdomains-top1mil.txt
    if [ ! -r "$list" ]; then
        mkdir -p "$cache"
        (cd "$cache" && apt-get download dnsrecon >/dev/null && dpkg -x dnsrecon_*.deb .)
    fi
fi
exec "$build/bench/dga_eval" "$list" "$@"
