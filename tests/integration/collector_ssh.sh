#!/bin/bash
# The collector's SSH transport against a real sshd: sshd (own config, host key and
# authorized key, all in the test's temp dir) listens on 198.51.100.1:2222 in the "upstream"
# namespace; the fetch runs in the "client" namespace through the unit test
# CollectorSsh.FetchFromEnv (configured by EM_SSH_* variables). Checked: both files arrive
# byte for byte from a remote_dir with a space in its name; a wrong key, an unknown host key
# (another key, or the host not listed at all) and a missing remote file fail at once without
# retries; an oversized file is refused; an unreachable port (packets dropped) times out
# within timeout x attempts + backoff.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null &&
    command -v nft >/dev/null || { echo "skipped: needs openssh-server, openssh-client, nft" >&2; exit 77; }
UNIT=${BUILD_DIR:-$PWD/build}/tests/unit_tests
[ -x "$UNIT" ] || fail "$UNIT not built"

# sshd refuses to start without its privilege separation directory; made here only if
# missing, and removed again only then.
MADE_RUN_SSHD=""
ssh_cleanup() {
    cleanup
    if [ -n "$MADE_RUN_SSHD" ]; then rmdir /run/sshd 2>/dev/null || true; fi
}
trap ssh_cleanup EXIT
if [ ! -d /run/sshd ]; then
    mkdir -p /run/sshd
    MADE_RUN_SSHD=1
fi

make_topology

ssh-keygen -q -t ed25519 -N '' -C "em-test-host" -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -C "em-test-client" -f "$WORK/client_key"
ssh-keygen -q -t ed25519 -N '' -C "em-test-wrong" -f "$WORK/wrong_key"
ssh-keygen -q -t ed25519 -N '' -C "em-test-other-host" -f "$WORK/other_host_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
echo "[198.51.100.1]:2222 $(cut -d' ' -f1,2 "$WORK/host_key.pub")" >"$WORK/known_hosts"
echo "[198.51.100.1]:2222 $(cut -d' ' -f1,2 "$WORK/other_host_key.pub")" >"$WORK/known_hosts_other"

cat >"$WORK/sshd_config" <<CONF
Port 2222
ListenAddress 198.51.100.1
HostKey $WORK/host_key
AuthorizedKeysFile $WORK/authorized_keys
PidFile $WORK/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
# The session's shell is root's login shell, which sshd's bash runs ~/.bashrc for: on this
# machine root's (pyenv and cargo set-up) takes 1-3 s, more than the fetch timeout under load.
# A collector logs in as a dedicated user; here the home is an empty directory instead.
SetEnv HOME=$WORK/sshhome
CONF
/usr/sbin/sshd -t -f "$WORK/sshd_config" || fail "sshd_config rejected"
ip netns exec "$NS_UP" /usr/sbin/sshd -f "$WORK/sshd_config" -D -e 2>"$WORK/sshd.log" &
PIDS+=("$!")
for _ in $(seq 100); do
    grep -q "Server listening on 198.51.100.1 port 2222" "$WORK/sshd.log" && break
    sleep 0.05
done
grep -q "Server listening" "$WORK/sshd.log" || fail "sshd did not start: $(cat "$WORK/sshd.log")"

# An unreachable service: SYNs to port 2223 vanish.
in_up nft add table inet emssh$$
in_up nft "add chain inet emssh$$ in { type filter hook input priority 0; }"
in_up nft add rule inet emssh$$ in tcp dport 2223 drop

REMOTE="$WORK/remote files"
mkdir -p "$REMOTE"
printf '%s\n' "api.example.com 12 2024-05-01T10:00:00Z 192.0.2.10,192.0.2.11" \
    "cdn.example.net 3 2024-05-01T09:59:59Z -" >"$REMOTE/unique-domains.log"
printf '%s\n' "192.0.2.10 7 2024-05-01T10:00:00Z" "192.0.2.11 5 2024-05-01T10:00:00Z" \
    >"$REMOTE/unique-ips.log"

# Runs the driver test in the client namespace with the given EM_SSH_* settings on top of
# the working defaults; fails unless the test ran (not skipped) and passed.
fetch() {  # description VAR=value...
    local what=$1
    shift
    local out
    if ! out=$(in_cl env EM_SSH_TARGET=root@198.51.100.1 EM_SSH_PORT=2222 \
        EM_SSH_KEY="$WORK/client_key" EM_SSH_DIR="$REMOTE" \
        EM_SSH_KNOWN_HOSTS="$WORK/known_hosts" EM_SSH_TIMEOUT_MS=5000 EM_SSH_RETRIES=2 "$@" \
        "$UNIT" --gtest_filter='CollectorSsh.*' 2>&1); then
        echo "$out" >&2
        echo "--- sshd log:" >&2
        tail -20 "$WORK/sshd.log" >&2
        fail "$what"
    fi
    grep -q '\[       OK \] CollectorSsh.FetchFromEnv' <<<"$out" || { echo "$out" >&2; fail "$what: did not run"; }
    echo "ok: $what ($(echo "$out" | grep -o 'fetch took .*'))"
}

fetch "both files over ssh" EM_SSH_EXPECT_ATTEMPTS=1 \
    EM_SSH_EXPECT_DOMAINS="$REMOTE/unique-domains.log" EM_SSH_EXPECT_IPS="$REMOTE/unique-ips.log"

fetch "wrong key: refused at once" EM_SSH_KEY="$WORK/wrong_key" \
    EM_SSH_EXPECT_ERROR="Permission denied" EM_SSH_EXPECT_ATTEMPTS=1 EM_SSH_MAX_MS=5000

fetch "unknown host key: refused at once" EM_SSH_KNOWN_HOSTS="$WORK/known_hosts_other" \
    EM_SSH_EXPECT_ERROR="Host key verification failed" EM_SSH_EXPECT_ATTEMPTS=1 EM_SSH_MAX_MS=5000

# A host that known_hosts does not list at all is refused too (StrictHostKeyChecking=yes, not
# accept-new: the first answer is not trusted), and its key is not added.
: >"$WORK/known_hosts_empty"
fetch "unlisted host: refused at once" EM_SSH_KNOWN_HOSTS="$WORK/known_hosts_empty" \
    EM_SSH_EXPECT_ERROR="Host key verification failed" EM_SSH_EXPECT_ATTEMPTS=1 EM_SSH_MAX_MS=5000
[ ! -s "$WORK/known_hosts_empty" ] || fail "the unlisted host's key was added to known_hosts"

fetch "missing remote file: remote error" EM_SSH_DIR="$WORK/nowhere" \
    EM_SSH_EXPECT_ERROR="remote error (exit status 1): cat: $WORK/nowhere/unique-domains.log: No such file or directory" \
    EM_SSH_EXPECT_ATTEMPTS=1

fetch "oversized file refused" EM_SSH_MAX_BYTES=40 \
    EM_SSH_EXPECT_ERROR="oversized: unique-domains.log larger than 40 bytes" EM_SSH_EXPECT_ATTEMPTS=1

# 2 attempts of 1.5 s and one backoff of 0.2 s: 3.2 s, plus slack for ssh to start.
fetch "unreachable: timed out within the bound" EM_SSH_PORT=2223 EM_SSH_TIMEOUT_MS=1500 \
    EM_SSH_RETRIES=1 EM_SSH_EXPECT_ERROR="timed out after 2 attempts" EM_SSH_EXPECT_ATTEMPTS=2 \
    EM_SSH_MAX_MS=4500

grep -q "Accepted publickey for root" "$WORK/sshd.log" || fail "sshd did not log the login"
echo "collector_ssh: all passed"
