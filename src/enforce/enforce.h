#pragma once
// `egress-monitor enforce`: the hostname allowlist over NFQUEUE. The operator's iptables
// rules send each filter's DNS queries, the inbound DNS responses and each filter's other
// traffic to the queues of the config (enforce_config.h); enforce gives every packet a
// verdict (engine.h), logs each as a JSON line and counts it.
//
// Fail closed by default: a packet that does not decode, a DNS message that cannot be read,
// and a TCP DNS message split across segments (only whole messages in one segment are read)
// are dropped; while enforce is not running the queued packets are dropped by the kernel
// unless the rules carry `--queue-bypass`. With `queue_bypass` (fail open) the queues are
// configured to accept packets when full instead of dropping them (NFQA_CFG_F_FAIL_OPEN) and
// the operator's rules should carry `--queue-bypass` too, so a stopped enforce lets traffic
// through: the choice between locking out and letting through is explicit.
//
// After the queues are bound: capabilities but CAP_NET_ADMIN dropped and a seccomp
// allowlist installed (harden.h), unless `harden` is off (tests of the loop alone).
#include <string>

#include "common/result.h"
#include "enforce/enforce_config.h"

namespace em {

struct EnforceOptions {
    std::string log_path = "-";  // verdict lines: "-" stdout, a file (appended), "" none
    bool queue_bypass = false;
    bool harden = true;
    // Scheduling priority (nice) the verdict loop runs at; 0 keeps the inherited one. A
    // filter starved by the traffic it judges drops that traffic (fail closed) or lets it
    // through unjudged (--queue-bypass): it runs ahead of ordinary processes by default.
    int nice = -10;
};

/// Runs until SIGINT/SIGTERM; prints the verdict counts at the end.
Result<void> run_enforce(const EnforceConfig& cfg, const EnforceOptions& opt);

}  // namespace em
