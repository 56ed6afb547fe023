#include "format/writer.h"

#include "common/files.h"
#include "common/time.h"
#include "format/fields.h"

namespace em {

void append_domain_line(std::string& out, std::string_view name, int64_t count, int64_t last_seen,
                        std::span<const IpAddress> ips) {
    out.append(name);
    out += ' ';
    out += std::to_string(count);
    out += ' ';
    out += format_rfc3339(last_seen);
    out += ' ';
    if (ips.empty()) out += '-';
    for (size_t i = 0; i < ips.size(); ++i) {
        if (i) out += ',';
        out += ips[i].to_string();
    }
    out += '\n';
}

void append_ip_line(std::string& out, const IpAddress& ip, int64_t count, int64_t last_seen) {
    out += ip.to_string();
    out += ' ';
    out += std::to_string(count);
    out += ' ';
    out += format_rfc3339(last_seen);
    out += '\n';
}

void append_flow_name_line(std::string& out, const IpAddress& ip, std::string_view name,
                           std::string_view protocol, int64_t count, int64_t last_seen, bool ech) {
    out += ip.to_string();
    out += ' ';
    out.append(name);
    out += ' ';
    out.append(protocol);
    out += ' ';
    out += std::to_string(count);
    out += ' ';
    out += format_rfc3339(last_seen);
    if (ech) out += " ech";
    out += '\n';
}

void append_process_use_line(std::string& out, char kind, std::string_view dest,
                             std::string_view exe, std::string_view user,
                             std::string_view container, int64_t count, int64_t first_seen,
                             int64_t last_seen) {
    out += kind;
    out += ' ';
    out.append(dest);
    for (std::string_view v : {exe, user, container}) {
        out += ' ';
        format_detail::append_field(out, v);
    }
    out += ' ';
    out += std::to_string(count);
    out += ' ';
    out += format_rfc3339(first_seen);
    out += ' ';
    out += format_rfc3339(last_seen);
    out += '\n';
}

std::string render_domains_file(const std::vector<DomainEntry>& domains) {
    std::string out;
    for (const auto& d : domains) append_domain_line(out, d.name, d.count, d.last_seen, d.ips);
    return out;
}

std::string render_ips_file(const std::vector<IpEntry>& ips) {
    std::string out;
    for (const auto& e : ips) append_ip_line(out, e.ip, e.count, e.last_seen);
    return out;
}

std::string render_flow_names_file(const std::vector<FlowNameFileEntry>& names) {
    std::string out;
    for (const auto& e : names) {
        // What the parser would refuse is not written: one such line would cost the reader
        // the whole file (a name is what a client sent, so any local process chooses it).
        if (format_detail::check_flow_name(e.name) || !format_detail::is_flow_protocol(e.protocol))
            continue;
        append_flow_name_line(out, e.ip, e.name, e.protocol, e.count, e.last_seen, e.ech);
    }
    return out;
}

std::string render_process_uses_file(const std::vector<ProcessUseEntry>& uses) {
    std::string out;
    for (const auto& e : uses) {
        // As for flow names: one refused line would cost the reader the whole file.
        if (format_detail::check_use_dest(e.kind, e.dest)) continue;
        if (format_detail::check_field(e.exe) || format_detail::check_field(e.user) ||
            format_detail::check_field(e.container))
            continue;
        append_process_use_line(out, e.kind, e.dest, e.exe, e.user, e.container, e.count,
                                e.first_seen, e.last_seen);
    }
    return out;
}

Result<void> write_aggregate_files(
    const std::string& dir, std::string_view domains, std::string_view ips,
    const std::vector<std::pair<std::string, std::string_view>>& extra) {
    std::vector<std::pair<std::string, std::string_view>> files = {{kDomainsFile, domains},
                                                                   {kIpsFile, ips}};
    files.insert(files.end(), extra.begin(), extra.end());
    return write_files_atomically(dir, files, 0640);
}

Result<void> write_aggregate_files(const std::string& dir, std::string_view domains,
                                   std::string_view ips, std::string_view names) {
    return write_files_atomically(
        dir, {{kDomainsFile, domains}, {kIpsFile, ips}, {kFlowNamesFile, names}}, 0640);
}

Result<void> write_aggregate_files(const std::string& dir, std::string_view domains,
                                   std::string_view ips) {
    return write_files_atomically(dir, {{kDomainsFile, domains}, {kIpsFile, ips}}, 0640);
}

}  // namespace em
