#include "exporters/aggregate_files.h"

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

Result<void> export_aggregate_files(Ledger& ledger, const std::string& dir) {
    Result<void> status;
    std::string domains = render_domains(ledger, status);
    if (!status) return status;
    std::string ips = render_ips(ledger, status);
    if (!status) return status;
    return write_aggregate_files(dir, domains, ips);
}

}  // namespace em
