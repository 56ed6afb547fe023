#include "exporters/aggregate_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <vector>

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

Result<void> export_aggregate_files(Ledger& ledger, const std::string& dir) {
    Result<void> status;
    std::string domains = render_domains(ledger, status);
    if (!status) return status;
    std::string ips = render_ips(ledger, status);
    if (!status) return status;
    size_t rows = 0;
    std::string names = render_flow_names(ledger, status, rows);
    if (!status) return status;
    struct stat st {};
    const std::string names_path = dir + "/" + kFlowNamesFile;
    if (rows > 0 || ::stat(names_path.c_str(), &st) == 0)
        return write_aggregate_files(dir, domains, ips, names);
    return write_aggregate_files(dir, domains, ips);
}

}  // namespace em
