#include "cli/consolidate.h"

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include <fmt/core.h>

#include "common/files.h"
#include "common/log.h"
#include "common/time.h"
#include "core/domain_folder.h"
#include "core/ledger.h"
#include "exporters/aggregate_files.h"
#include "sources/dnsmasq_log/dnsmasq_parser.h"
#include "sources/kernel_log/journald.h"
#include "sources/kernel_log/kernel_line.h"
#include "sources/kernel_log/kmsg.h"
#include "sources/log_file/log_file.h"

namespace em {

namespace {

constexpr uint64_t kSplitBytes = 32 << 20;  // kernel-log ranges handed to worker threads

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// Runs independent tasks on up to `threads` threads; each task owns its output.
void run_tasks(std::vector<std::function<void()>>& tasks, int threads) {
    std::atomic<size_t> next{0};
    auto worker = [&] {
        for (size_t i; (i = next.fetch_add(1)) < tasks.size();) tasks[i]();
    };
    std::vector<std::thread> pool;
    for (int i = 1; i < threads && static_cast<size_t>(i) < tasks.size(); ++i)
        pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
}

Result<std::optional<LogCursor>> stored_file_cursor(Ledger& ledger, const std::string& key) {
    auto text = ledger.cursor(key);
    if (!text) return text.error();
    if (!*text) return std::optional<LogCursor>();
    auto c = LogCursor::decode(**text);
    if (!c) return Error{"corrupt stored cursor for " + key + ": \"" + **text + "\""};
    return std::optional<LogCursor>(*c);
}

void report_notes(const LogFile& f) {
    for (const auto& n : f.notes()) log_warn("{}", n);
    if (log_enabled(LogLevel::info)) {
        for (const auto& s : f.segments())
            log_info("reading {} from {} to {}", s.path(), s.begin(),
                     s.compressed() ? std::string("the end") : std::to_string(s.end()));
        log_info("cursor after: {}", f.cursor_after().encode());
    }
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

Result<ConsolidateSummary> consolidate(const ConsolidateConfig& given) {
    // Cursors are keyed by absolute path: a run by hand from another directory must find them.
    ConsolidateConfig cfg = given;
    for (std::string* p : {&cfg.dnsmasq_log, &cfg.state_dir, &cfg.output_dir})
        *p = std::filesystem::absolute(*p).lexically_normal().string();
    if (cfg.kernel_log != "journald" && cfg.kernel_log != "kmsg" && cfg.kernel_log != "none")
        cfg.kernel_log = std::filesystem::absolute(cfg.kernel_log).lexically_normal().string();
    if (auto r = make_directories(cfg.state_dir, 0750); !r) return r.error();
    auto lock = lock_file(cfg.state_dir + "/consolidate.lock", cfg.lock_timeout_ms);
    if (!lock) return lock.error();
    auto opened =
        Ledger::open(cfg.state_dir + "/ledger.sqlite", static_cast<size_t>(cfg.max_ips_per_domain));
    if (!opened) return opened.error();
    Ledger& ledger = opened.value();
    ledger.set_caps(static_cast<size_t>(cfg.max_domains), static_cast<size_t>(cfg.max_ips));
    const int64_t now = unix_now();
    const size_t cap = static_cast<size_t>(cfg.max_ips_per_domain);
    auto domain_folder = DomainFolder::create(static_cast<size_t>(cfg.max_names_per_domain));
    if (!domain_folder) return domain_folder.error();
    ConsolidateSummary sum;
    std::map<std::string, std::string> cursors;  // to commit
    std::map<std::string, std::string> before;   // as stored

    // dnsmasq: one sequential task (answers are tied to earlier queries).
    const std::string dn_key = "dnsmasq:" + cfg.dnsmasq_log;
    const std::string dn_state_key = "dnsmasq-state:" + cfg.dnsmasq_log;
    auto dn_cursor = stored_file_cursor(ledger, dn_key);
    if (!dn_cursor) return dn_cursor.error();
    auto dn_state = ledger.cursor(dn_state_key);
    if (!dn_state) return dn_state.error();
    auto dn_plan = LogFile::plan(cfg.dnsmasq_log, *dn_cursor);
    if (!dn_plan) return dn_plan.error();
    report_notes(*dn_plan);
    DnsmasqParser dn_parser(now);
    if (*dn_state) dn_parser.load_state(**dn_state);
    if (*dn_cursor) before[dn_key] = (*dn_cursor)->encode();
    if (*dn_state) before[dn_state_key] = **dn_state;

    std::vector<std::function<void()>> tasks;
    std::vector<std::unique_ptr<Batch>> batches;
    std::vector<Result<void>> results;
    auto add_task = [&](std::function<Result<void>(Batch&)> fn) {
        batches.push_back(std::make_unique<Batch>(cap, &domain_folder.value()));
        results.emplace_back();
        size_t i = batches.size() - 1;
        tasks.emplace_back([&, i, fn = std::move(fn)] { results[i] = fn(*batches[i]); });
    };
    if (!dn_plan->segments().empty()) {
        add_task([&](Batch& b) -> Result<void> {
            for (const Segment& s : dn_plan->segments()) {
                auto r =
                    s.read_all([&](std::string_view lines) { dn_parser.feed(lines, b, s.path()); });
                if (!r) return r;
            }
            return {};
        });
    }

    // Kernel LOG lines.
    std::vector<std::unique_ptr<SyslogKernelParser>> kernel_parsers;
    struct KernelRange {
        const Segment* segment;
        uint64_t begin, end;
    };
    std::vector<KernelRange> kernel_ranges;
    std::atomic<size_t> next_range{0};
    KernelLineFolder folder(cfg.log_prefix);
    std::optional<LogFile> kn_plan;
    std::string kn_key;
    Batch kernel_batch(cap);  // journald / kmsg
    if (cfg.kernel_log == "journald") {
        kn_key = "journald:" + cfg.journal_directory;
        auto c = ledger.cursor(kn_key);
        if (!c) return c.error();
        if (*c) before[kn_key] = **c;
        auto jr = read_journal(cfg.journal_directory, *c, folder, kernel_batch);
        if (!jr) return jr.error();
        if (jr->cursor_lost)
            log_warn(
                "the journal no longer holds the last entry read; resuming at the oldest "
                "entry after it (entries vacuumed in between were not read)");
        if (!jr->cursor.empty()) cursors[kn_key] = jr->cursor;
    } else if (cfg.kernel_log == "kmsg") {
        kn_key = "kmsg:" + cfg.kmsg_device;
        auto c = ledger.cursor(kn_key);
        if (!c) return c.error();
        if (*c) before[kn_key] = **c;
        auto kr = read_kmsg(cfg.kmsg_device, *c, folder, kernel_batch);
        if (!kr) return kr.error();
        if (kr->lost)
            log_warn(
                "{}: {} kernel records were overwritten in the ring before they could be "
                "read (run consolidate more often, or read kernel lines from journald)",
                cfg.kmsg_device, kr->lost);
        kernel_batch.count("kernel.lost_records", kr->lost);
        if (!kr->cursor.empty()) cursors[kn_key] = kr->cursor;
    } else if (cfg.kernel_log != "none") {
        kn_key = "kernel-file:" + cfg.kernel_log;
        auto c = stored_file_cursor(ledger, kn_key);
        if (!c) return c.error();
        if (*c) before[kn_key] = (*c)->encode();
        auto p = LogFile::plan(cfg.kernel_log, *c);
        if (!p) return p.error();
        kn_plan.emplace(std::move(p.value()));
        report_notes(*kn_plan);
        for (const Segment& s : kn_plan->segments()) {
            // Kernel lines are independent: split big files into ranges parsed in parallel.
            uint64_t begin = s.begin();
            do {
                uint64_t end = s.compressed() ? s.end() : std::min(s.end(), begin + kSplitBytes);
                if (s.end() - end < kSplitBytes / 4) end = s.end();
                kernel_ranges.push_back({&s, begin, end});
                begin = end;
            } while (begin < s.end() && !s.compressed());
        }
        // One task (parser and batch) per thread, each claiming ranges until none is left:
        // the address tables to fill and merge are one per thread, not one per range, so
        // memory and merge cost follow the distinct addresses, not ranges × addresses.
        const size_t workers =
            std::min(kernel_ranges.size(), static_cast<size_t>(std::max(cfg.threads, 1)));
        for (size_t w = 0; w < workers; ++w) {
            kernel_parsers.push_back(std::make_unique<SyslogKernelParser>(cfg.log_prefix, now));
            SyslogKernelParser* parser = kernel_parsers.back().get();
            add_task([&, parser](Batch& b) -> Result<void> {
                for (size_t i; (i = next_range.fetch_add(1)) < kernel_ranges.size();) {
                    const KernelRange& r = kernel_ranges[i];
                    auto read = r.segment->read(r.begin, r.end, [&](std::string_view lines) {
                        parser->feed(lines, b, r.segment->path());
                    });
                    if (!read) return read;
                }
                return {};
            });
        }
    }

    run_tasks(tasks, cfg.threads);
    for (auto& r : results)
        if (!r) return r.error();
    if (kn_plan) {
        if (auto r = kn_plan->verify_unchanged(); !r) return r.error();
    }
    if (auto r = dn_plan->verify_unchanged(); !r) return r.error();

    // Merge and account.
    Batch total(cap, &domain_folder.value());
    for (auto& b : batches) total.merge(std::move(*b));
    total.merge(std::move(kernel_batch));
    const DnsmasqCounters& dc = dn_parser.counters();
    KernelCounters kc = folder.counters();
    for (auto& p : kernel_parsers) {
        const KernelCounters& c = p->counters();
        kc.lines += c.lines;
        kc.flows += c.flows;
        kc.loopback += c.loopback;
        kc.other += c.other;
        kc.malformed += c.malformed;
    }
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
        {"log_file.lost_generations",
         dn_plan->lost_generations() + (kn_plan ? kn_plan->lost_generations() : 0)},
    };
    for (auto& [name, n] : counters)
        if (n) total.count(name, n);
    if (dc.malformed)
        log_warn("{}: skipped {} malformed line(s) of {}", cfg.dnsmasq_log, dc.malformed, dc.lines);
    if (dc.unprintable)
        log_warn(
            "{}: {} query or answer line(s) with a name dnsmasq logged as <name unprintable> "
            "(raw binary bytes, as DNS tunnels send), counted under {}",
            cfg.dnsmasq_log, dc.unprintable, DomainFolder::kUnprintable);
    if (kc.malformed)
        log_warn("{}: skipped {} malformed kernel LOG line(s) of {}", cfg.kernel_log, kc.malformed,
                 kc.lines);

    cursors[dn_key] = dn_plan->cursor_after().encode();
    if (dn_plan->cursor_after().files.empty()) cursors.erase(dn_key);
    std::string state = dn_parser.save_state();
    if (!state.empty() || *dn_state) cursors[dn_state_key] = state;
    if (kn_plan && !kn_plan->cursor_after().files.empty())
        cursors[kn_key] = kn_plan->cursor_after().encode();

    sum.bytes = dn_plan->bytes_planned() + (kn_plan ? kn_plan->bytes_planned() : 0);
    sum.dns_lines = dc.lines;
    sum.queries = dc.queries;
    sum.kernel_lines = kc.lines;
    sum.flows = kc.flows;
    sum.malformed = dc.malformed + kc.malformed;

    // Commit when anything moved (a cursor can move past lines that count nothing); render
    // only when the totals changed or the files are missing or older than the ledger.
    auto gen = ledger.generation("commit_generation");
    if (!gen) return gen.error();
    auto rendered = ledger.generation("rendered_generation");
    if (!rendered) return rendered.error();
    const bool files_current = *gen == *rendered &&
                               file_exists(cfg.output_dir + "/" + kDomainsFile) &&
                               file_exists(cfg.output_dir + "/" + kIpsFile);
    const bool totals_changed = !total.empty();
    bool changed = totals_changed || !total.counters().empty();
    for (const auto& [k, v] : cursors) {
        auto it = before.find(k);
        if (it == before.end() || it->second != v) changed = true;
    }
    int64_t generation = *gen;
    if (changed) {
        if (auto r = ledger.commit(total, cursors, &domain_folder.value()); !r) return r.error();
        report_folding(total, ledger.last_folded(), cfg.max_names_per_domain);
        if (ledger.last_capacity_folded() > 0) log_warn("{}", ledger.capacity_warning());
        sum.committed = true;
        ++generation;
    }
    if (totals_changed || !files_current) {
        if (auto r = make_directories(cfg.output_dir, 0750); !r) return r.error();
        if (auto r = export_aggregate_files(ledger, cfg.output_dir); !r) return r.error();
        sum.rendered = true;
    }
    if (generation != *rendered) {
        // The files now match this generation (rendered above, or unchanged totals).
        if (auto r = ledger.set_rendered(generation); !r) return r.error();
    }
    return sum;
}

}  // namespace em
