#include "cron/merge.h"

namespace em {

CronMerged merge_inputs(const CronPlan& plan, CronRead&& read, size_t max_ips_per_domain,
                        const DomainFolder* folder) {
    CronMerged m{Batch(max_ips_per_domain, folder), {}, false, {}};
    for (auto& b : read.batches) m.total.merge(std::move(*b));
    const DnsmasqCounters& dc = read.dnsmasq;
    const KernelCounters& kc = read.kernel;
    const LogFile& dn = *plan.dnsmasq;
    const LogFile* kn = plan.kernel_file ? &*plan.kernel_file : nullptr;
    std::pair<const char*, uint64_t> counters[] = {
        {"dnsmasq.lines", dc.lines},
        {"dnsmasq.queries", dc.queries},
        {"dnsmasq.answers", dc.answers},
        {"dnsmasq.malformed", dc.malformed},
        {"dnsmasq.unprintable_names", dc.unprintable},
        {"kernel.lines", kc.lines},
        {"kernel.flows", kc.flows},
        {"kernel.loopback", kc.loopback},
        {"kernel.malformed", kc.malformed},
        {"log_file.lost_generations", dn.lost_generations() + (kn ? kn->lost_generations() : 0)},
    };
    for (auto& [name, n] : counters)
        if (n) m.total.count(name, n);

    // A file cursor is stored even with no file in it (the log does not exist yet): it then
    // says that nothing was there, so a log created and rotated before the next run is read
    // from its rotated generation, not taken for history from before the first run.
    m.cursors = std::move(read.kernel_cursors);
    m.cursors[plan.dnsmasq_key] = dn.cursor_after().encode();
    if (!read.dnsmasq_state.empty() || plan.dnsmasq_state)
        m.cursors[plan.dnsmasq_state_key] = read.dnsmasq_state;
    if (kn) m.cursors[plan.kernel_key] = kn->cursor_after().encode();

    m.moved = !m.total.empty() || !m.total.counters().empty();
    for (const auto& [k, v] : m.cursors) {
        auto it = plan.before.find(k);
        if (it == plan.before.end() || it->second != v) m.moved = true;
    }

    CronSummary& s = m.summary;
    s.bytes = dn.bytes_planned() + (kn ? kn->bytes_planned() : 0);
    s.dns_lines = dc.lines;
    s.queries = dc.queries;
    s.kernel_lines = kc.lines;
    s.flows = kc.flows;
    s.malformed = dc.malformed + kc.malformed;
    return m;
}

}  // namespace em
