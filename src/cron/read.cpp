#include "cron/read.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

#include "common/log.h"
#include "sources/kernel_log/journald.h"
#include "sources/kernel_log/kmsg.h"

namespace em {

namespace {

constexpr uint64_t kSplitBytes = 32 << 20;  // kernel-log ranges handed to worker threads

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

struct KernelRange {
    const Segment* segment;
    uint64_t begin, end;
};

// Kernel lines are independent: big files are split into ranges parsed in parallel.
std::vector<KernelRange> split_ranges(const LogFile& file) {
    std::vector<KernelRange> ranges;
    for (const Segment& s : file.segments()) {
        uint64_t begin = s.begin();
        do {
            uint64_t end = s.compressed() ? s.end() : std::min(s.end(), begin + kSplitBytes);
            if (s.end() - end < kSplitBytes / 4) end = s.end();
            ranges.push_back({&s, begin, end});
            begin = end;
        } while (begin < s.end() && !s.compressed());
    }
    return ranges;
}

// journald or kmsg, on this thread, into `batch`.
Result<void> read_kernel_stream(const CronPlan& plan, const CronOptions& o,
                                KernelLineFolder& folder, Batch& batch, CronRead& out) {
    if (o.kernel_log == "journald") {
        auto jr = read_journal(o.journal_directory, plan.kernel_cursor, folder, batch);
        if (!jr) return jr.error();
        if (jr->cursor_lost)
            log_warn(
                "the journal no longer holds the last entry read; resuming at the oldest "
                "entry after it (entries vacuumed in between were not read)");
        if (!jr->cursor.empty()) out.kernel_cursors[plan.kernel_key] = jr->cursor;
    } else if (o.kernel_log == "kmsg") {
        auto kr = read_kmsg(o.kmsg_device, plan.kernel_cursor, folder, batch);
        if (!kr) return kr.error();
        if (kr->lost)
            log_warn(
                "{}: {} kernel records were overwritten in the ring before they could be "
                "read (run consolidate more often, or read kernel lines from journald)",
                o.kmsg_device, kr->lost);
        batch.count("kernel.lost_records", kr->lost);
        if (!kr->cursor.empty()) out.kernel_cursors[plan.kernel_key] = kr->cursor;
    }
    return {};
}

void add_counters(KernelCounters& sum, const KernelCounters& c) {
    sum.lines += c.lines;
    sum.flows += c.flows;
    sum.loopback += c.loopback;
    sum.other += c.other;
    sum.malformed += c.malformed;
}

}  // namespace

Result<CronRead> read_inputs(const CronPlan& plan, const CronOptions& o,
                             const DomainFolder& domain_folder, int64_t now) {
    const size_t cap = static_cast<size_t>(o.max_ips_per_domain);
    CronRead out;
    std::vector<std::function<void()>> tasks;
    std::vector<Result<void>> results;
    auto add_task = [&](std::function<Result<void>(Batch&)> fn) {
        out.batches.push_back(std::make_unique<Batch>(cap, &domain_folder));
        results.emplace_back();
        size_t i = out.batches.size() - 1;
        Batch* b = out.batches[i].get();
        tasks.emplace_back([&results, i, b, fn = std::move(fn)] { results[i] = fn(*b); });
    };

    DnsmasqParser dn_parser(now);
    if (plan.dnsmasq_state) dn_parser.load_state(*plan.dnsmasq_state);
    const LogFile& dn = *plan.dnsmasq;
    if (!dn.segments().empty()) {
        add_task([&](Batch& b) -> Result<void> {
            for (const Segment& s : dn.segments()) {
                auto r =
                    s.read_all([&](std::string_view lines) { dn_parser.feed(lines, b, s.path()); });
                if (!r) return r;
            }
            return {};
        });
    }

    KernelLineFolder folder(o.log_prefix);
    auto stream_batch = std::make_unique<Batch>(cap);  // journald / kmsg
    if (auto r = read_kernel_stream(plan, o, folder, *stream_batch, out); !r) return r.error();
    std::vector<std::unique_ptr<SyslogKernelParser>> kernel_parsers;
    std::vector<KernelRange> ranges;
    std::atomic<size_t> next_range{0};
    if (plan.kernel_file) {
        ranges = split_ranges(*plan.kernel_file);
        // One task (parser and batch) per thread, each claiming ranges until none is left:
        // the address tables to fill and merge are one per thread, not one per range, so
        // memory and merge cost follow the distinct addresses, not ranges × addresses.
        const size_t workers = std::min(ranges.size(), static_cast<size_t>(std::max(o.threads, 1)));
        for (size_t w = 0; w < workers; ++w) {
            kernel_parsers.push_back(std::make_unique<SyslogKernelParser>(o.log_prefix, now));
            SyslogKernelParser* parser = kernel_parsers.back().get();
            add_task([&, parser](Batch& b) -> Result<void> {
                for (size_t i; (i = next_range.fetch_add(1)) < ranges.size();) {
                    const KernelRange& r = ranges[i];
                    auto read = r.segment->read(r.begin, r.end, [&](std::string_view lines) {
                        parser->feed(lines, b, r.segment->path());
                    });
                    if (!read) return read;
                }
                return {};
            });
        }
    }

    run_tasks(tasks, o.threads);
    for (auto& r : results)
        if (!r) return r.error();
    if (plan.kernel_file) {
        if (auto r = plan.kernel_file->verify_unchanged(); !r) return r.error();
    }
    if (auto r = dn.verify_unchanged(); !r) return r.error();

    out.batches.push_back(std::move(stream_batch));
    out.dnsmasq = dn_parser.counters();
    out.kernel = folder.counters();
    for (auto& p : kernel_parsers) add_counters(out.kernel, p->counters());
    out.dnsmasq_state = dn_parser.save_state();
    return out;
}

}  // namespace em
