#!/bin/sh
# Installs what egress-monitor needs from Debian 12's archive. Idempotent: it only calls
# apt-get when a package is missing.
#   scripts/deps.sh build    libraries and tools to build the binary
#   scripts/deps.sh test     build + what the tests drive for real (dnsmasq, nft, dig, ...)
#   scripts/deps.sh run      what the monitored host needs at run time (install.sh)
#   scripts/deps.sh collector  build + what the collector host needs (install.sh --mode collector)
set -eu

build="build-essential cmake pkg-config clang bpftool libbpf-dev libsqlite3-dev libpq-dev libsystemd-dev libcli11-dev
libtomlplusplus-dev libfmt-dev zlib1g-dev libgtest-dev libpsl-dev publicsuffix libmnl-dev
libnetfilter-log-dev libnetfilter-conntrack-dev libldns-dev libpcap-dev libcpp-httplib-dev
libssl-dev libnetfilter-queue-dev libseccomp-dev libcap-dev libmicrohttpd-dev libcurl4-openssl-dev wamerican"
test="dnsmasq-base dnsutils nftables iptables iproute2 systemd util-linux mawk sqlite3
procps clang clang-tidy libclang-rt-14-dev e2fsprogs time gzip tcpdump conntrack curl openssl python3
openssh-server openssh-client valgrind iodine dns2tcp chromium postgresql-15"
run="dnsmasq nftables cron logrotate"
collector="cron logrotate openssl"

case "${1:-build}" in
build) want="$build" ;;
test) want="$build $test" ;;
run) want="$build $run" ;;
collector) want="$build $collector" ;;
*) echo "usage: $0 build|test|run|collector" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages must not start their services with their default configuration (dnsmasq would
# listen on every interface): install.sh starts what it configured itself.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
