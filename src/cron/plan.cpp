#include "cron/plan.h"

#include "common/log.h"

namespace em {

namespace {

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

// A file input: its stored cursor (remembered in `before`) and its plan.
Result<LogFile> plan_file(Ledger& ledger, const std::string& path, const std::string& key,
                          std::map<std::string, std::string>& before) {
    auto cursor = stored_file_cursor(ledger, key);
    if (!cursor) return cursor.error();
    if (*cursor) before[key] = (*cursor)->encode();
    auto plan = LogFile::plan(path, *cursor);
    if (!plan) return plan.error();
    report_notes(*plan);
    return plan;
}

}  // namespace

Result<CronPlan> plan_inputs(Ledger& ledger, const CronOptions& o) {
    CronPlan p;
    p.dnsmasq_key = "dnsmasq:" + o.dnsmasq_log;
    p.dnsmasq_state_key = "dnsmasq-state:" + o.dnsmasq_log;
    auto state = ledger.cursor(p.dnsmasq_state_key);
    if (!state) return state.error();
    p.dnsmasq_state = *state;
    if (p.dnsmasq_state) p.before[p.dnsmasq_state_key] = *p.dnsmasq_state;
    auto dn = plan_file(ledger, o.dnsmasq_log, p.dnsmasq_key, p.before);
    if (!dn) return dn.error();
    p.dnsmasq.emplace(std::move(*dn));

    if (o.kernel_log == "none") return p;
    if (o.kernel_log == "journald" || o.kernel_log == "kmsg") {
        p.kernel_key = o.kernel_log == "journald" ? "journald:" + o.journal_directory
                                                  : "kmsg:" + o.kmsg_device;
        auto c = ledger.cursor(p.kernel_key);
        if (!c) return c.error();
        p.kernel_cursor = *c;
        if (*c) p.before[p.kernel_key] = **c;
        return p;
    }
    p.kernel_key = "kernel-file:" + o.kernel_log;
    auto kn = plan_file(ledger, o.kernel_log, p.kernel_key, p.before);
    if (!kn) return kn.error();
    p.kernel_file.emplace(std::move(*kn));
    return p;
}

}  // namespace em
