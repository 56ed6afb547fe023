#include "exporters/aggregate_files.h"

#include "common/files.h"
#include "common/time.h"

namespace em {

std::string render_domains(Ledger& ledger, Result<void>& status) {
    std::string out;
    status = ledger.for_each_domain([&](const DomainRow& row) {
        out.append(row.name);
        out += ' ';
        out += std::to_string(row.count);
        out += ' ';
        out += format_rfc3339(row.last_seen);
        out += ' ';
        if (row.ips->empty()) out += '-';
        for (size_t i = 0; i < row.ips->size(); ++i) {
            if (i) out += ',';
            out += (*row.ips)[i].to_string();
        }
        out += '\n';
    });
    return out;
}

std::string render_ips(Ledger& ledger, Result<void>& status) {
    std::string out;
    status = ledger.for_each_ip([&](const IpRow& row) {
        out += row.ip.to_string();
        out += ' ';
        out += std::to_string(row.count);
        out += ' ';
        out += format_rfc3339(row.last_seen);
        out += '\n';
    });
    return out;
}

Result<void> export_aggregate_files(Ledger& ledger, const std::string& dir) {
    Result<void> status;
    std::string domains = render_domains(ledger, status);
    if (!status) return status;
    std::string ips = render_ips(ledger, status);
    if (!status) return status;
    return write_files_atomically(dir, {{kDomainsFile, domains}, {kIpsFile, ips}}, 0640);
}

}  // namespace em
