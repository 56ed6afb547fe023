#include "exporters/aggregate_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <tuple>
#include <vector>

#include "common/log.h"
#include "flowname/first_packet.h"
#include "format/writer.h"

namespace em {

std::string render_domains(Ledger& ledger, Result<void>& status) {
    std::string out;
    status = ledger.for_each_domain([&](const DomainRow& row) {
        append_domain_line(out, row.name, row.count, row.last_seen, *row.ips);
    });
    return out;
}

std::string render_ips(Ledger& ledger, Result<void>& status) {
    std::string out;
    status = ledger.for_each_ip(
        [&](const IpRow& row) { append_ip_line(out, row.ip, row.count, row.last_seen); });
    return out;
}

std::string render_flow_names(Ledger& ledger, Result<void>& status, size_t& rows) {
    // The ledger orders a name's protocols by their numbers; the file by their names.
    std::vector<FlowNameFileEntry> names;
    status = ledger.for_each_flow_name([&](const FlowNameRow& row) {
        const char* protocol = first_packet_protocol_name(row.protocol);
        if (std::strcmp(protocol, "unknown") == 0) return;
        names.push_back(FlowNameFileEntry{row.ip, std::string(row.name), protocol, row.count,
                                          row.last_seen, row.ech});
    });
    std::sort(names.begin(), names.end(),
              [](const FlowNameFileEntry& a, const FlowNameFileEntry& b) {
                  return std::tie(a.ip, a.name, a.protocol) < std::tie(b.ip, b.name, b.protocol);
              });
    rows = names.size();
    return render_flow_names_file(names);
}

std::string render_process_uses(Ledger& ledger, Result<void>& status, size_t& rows) {
    std::vector<ProcessUseEntry> uses;
    status = ledger.for_each_process_use([&](const ProcessUseRow& row) {
        uses.push_back(ProcessUseEntry{row.kind, std::string(row.dest), std::string(row.exe),
                                       std::string(row.user), std::string(row.container), row.count,
                                       row.first_seen, row.last_seen});
    });
    // The ledger's primary key order is the file's; sorted again only if a ledger disagrees.
    auto key = [](const ProcessUseEntry& e) {
        return std::tie(e.kind, e.dest, e.exe, e.user, e.container);
    };
    auto less = [&](const ProcessUseEntry& a, const ProcessUseEntry& b) { return key(a) < key(b); };
    if (!std::is_sorted(uses.begin(), uses.end(), less)) std::sort(uses.begin(), uses.end(), less);
    size_t left_out = 0;
    std::string out = render_process_uses_file(uses, &left_out);
    rows = uses.size() - left_out;
    // Said once a process: the file is rewritten at every flush.
    static std::atomic<bool> said{false};
    if (left_out > 0 && !said.exchange(true))
        log_warn(
            "{}: {} of {} process uses left out (a line the format cannot carry, or more "
            "than {} lines or {} bytes: the most recently used are kept)",
            kProcessUsesFile, left_out, uses.size(), kMaxProcessUsesLines, kMaxProcessUsesBytes);
    return out;
}

namespace {

// An optional file is written when it has lines or is already there (so it follows a ledger
// that lost its rows).
bool keep_writing(const std::string& dir, const char* name, size_t rows) {
    struct stat st {};
    return rows > 0 || ::stat((dir + "/" + name).c_str(), &st) == 0;
}

}  // namespace

Result<void> export_aggregate_files(Ledger& ledger, const std::string& dir) {
    Result<void> status;
    std::string domains = render_domains(ledger, status);
    if (!status) return status;
    std::string ips = render_ips(ledger, status);
    if (!status) return status;
    size_t rows = 0;
    std::string names = render_flow_names(ledger, status, rows);
    if (!status) return status;
    std::vector<std::pair<std::string, std::string_view>> extra;
    if (keep_writing(dir, kFlowNamesFile, rows)) extra.emplace_back(kFlowNamesFile, names);
    std::string uses = render_process_uses(ledger, status, rows);
    if (!status) return status;
    if (keep_writing(dir, kProcessUsesFile, rows)) extra.emplace_back(kProcessUsesFile, uses);
    return write_aggregate_files(dir, domains, ips, extra);
}

}  // namespace em
