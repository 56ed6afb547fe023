#include "cron/cron.h"

#include <filesystem>

#include "common/files.h"
#include "common/log.h"
#include "common/time.h"
#include "core/domain_folder.h"
#include "core/ledger.h"
#include "cron/merge.h"
#include "cron/plan.h"
#include "cron/read.h"
#include "exporters/commit_render.h"

namespace em {

namespace {

void report_malformed(const CronOptions& o, const DnsmasqCounters& dc, const KernelCounters& kc) {
    if (dc.malformed)
        log_warn("{}: skipped {} malformed line(s) of {}", o.dnsmasq_log, dc.malformed, dc.lines);
    if (dc.unprintable)
        log_warn(
            "{}: {} query or answer line(s) with a name dnsmasq logged as <name unprintable> "
            "(raw binary bytes, as DNS tunnels send), counted under {}",
            o.dnsmasq_log, dc.unprintable, DomainFolder::kUnprintable);
    if (kc.malformed)
        log_warn("{}: skipped {} malformed kernel LOG line(s) of {}", o.kernel_log, kc.malformed,
                 kc.lines);
}

// A flood of names under one registrable domain is the kind of thing an operator must hear
// of: say which domains were folded.
void report_folding(const Batch& total, int64_t folded_names, int limit) {
    auto q = total.counters().find("dnsmasq.folded_queries");
    uint64_t queries = q == total.counters().end() ? 0 : q->second;
    if (queries == 0 && folded_names == 0) return;
    std::string bases;
    int shown = 0;
    for (const auto& [name, d] : total.domains()) {
        if (!DomainFolder::is_folded(name) || shown >= 5) continue;
        bases += (shown++ ? ", " : "") + std::string(name);
    }
    log_warn(
        "more than {} names under one registrable domain: {} new name(s) and {} queries "
        "counted under {}{}",
        limit, folded_names, queries, bases.empty() ? "their *.<domain> entries" : bases,
        shown >= 5 ? ", ..." : "");
}

}  // namespace

Result<CronSummary> run_cron(const CronOptions& given) {
    // Cursors are keyed by absolute path: a run by hand from another directory must find them.
    CronOptions o = given;
    for (std::string* p : {&o.dnsmasq_log, &o.state_dir, &o.output_dir})
        *p = std::filesystem::absolute(*p).lexically_normal().string();
    if (o.kernel_log != "journald" && o.kernel_log != "kmsg" && o.kernel_log != "none")
        o.kernel_log = std::filesystem::absolute(o.kernel_log).lexically_normal().string();
    if (auto r = make_directories(o.state_dir, 0750); !r) return r.error();
    auto lock = lock_file(o.state_dir + "/consolidate.lock", o.lock_timeout_ms);
    if (!lock) return lock.error();
    const size_t cap = static_cast<size_t>(o.max_ips_per_domain);
    auto opened = Ledger::open(o.state_dir + "/ledger.sqlite", cap);
    if (!opened) return opened.error();
    Ledger& ledger = opened.value();
    ledger.set_caps(static_cast<size_t>(o.max_domains), static_cast<size_t>(o.max_ips));
    const int64_t now = unix_now();
    auto domain_folder = DomainFolder::create(static_cast<size_t>(o.max_names_per_domain));
    if (!domain_folder) return domain_folder.error();

    auto plan = plan_inputs(ledger, o);
    if (!plan) return plan.error();
    auto read = read_inputs(*plan, o, *domain_folder, now);
    if (!read) return read.error();
    report_malformed(o, read->dnsmasq, read->kernel);
    CronMerged m = merge_inputs(*plan, std::move(*read), cap, &*domain_folder);

    const CommitRequest req{
        .batch = m.total,
        .cursors = m.cursors,
        .moved = m.moved,
        .force = false,
        .folder = &*domain_folder,
        .on_committed =
            [&] {
                report_folding(m.total, ledger.last_folded(), o.max_names_per_domain);
                if (ledger.last_capacity_folded() > 0) log_warn("{}", ledger.capacity_warning());
            },
    };
    auto done = commit_and_render(ledger, o.output_dir, req);
    if (!done) return done.error();
    m.summary.committed = done->committed;
    m.summary.rendered = done->rendered;
    return m.summary;
}

}  // namespace em
