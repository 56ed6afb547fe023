#include "format/writer.h"

#include <algorithm>

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

namespace {

// What the parser accepts of a count and a time (parser.h).
bool writable_count(int64_t n) { return n >= 1 && n <= (int64_t{1} << 62); }
bool writable_time(int64_t t) { return t >= 0 && t <= 253402300799; }  // to 9999-12-31

}  // namespace

std::string render_process_uses_file(const std::vector<ProcessUseEntry>& uses, size_t* left_out) {
    // As for flow names: one refused line would cost the reader the whole file.
    std::vector<const ProcessUseEntry*> ok;
    ok.reserve(uses.size());
    for (const auto& e : uses) {
        if (format_detail::check_use_dest(e.kind, e.dest) || format_detail::check_field(e.exe) ||
            format_detail::check_field(e.user) || format_detail::check_field(e.container) ||
            !writable_count(e.count) || !writable_time(e.first_seen) ||
            !writable_time(e.last_seen) || e.first_seen > e.last_seen)
            continue;
        ok.push_back(&e);
    }
    // Each line's length first, so that a file too large for a reader is never spelled.
    std::vector<uint32_t> len(ok.size());
    size_t total = 0;
    std::string line;
    for (size_t i = 0; i < ok.size(); ++i) {
        line.clear();
        const ProcessUseEntry& e = *ok[i];
        append_process_use_line(line, e.kind, e.dest, e.exe, e.user, e.container, e.count,
                                e.first_seen, e.last_seen);
        len[i] = static_cast<uint32_t>(line.size());
        total += line.size();
    }
    std::vector<bool> keep(ok.size(), true);
    size_t kept = ok.size();
    if (ok.size() > kMaxProcessUsesLines || total > kMaxProcessUsesBytes) {
        // Too much for a reader: the most recently used lines that fit, in key order.
        std::vector<size_t> order(ok.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return ok[a]->last_seen > ok[b]->last_seen; });
        keep.assign(ok.size(), false);
        kept = 0;
        total = 0;
        for (size_t i : order) {
            if (kept == kMaxProcessUsesLines) break;
            if (total + len[i] > kMaxProcessUsesBytes) continue;
            keep[i] = true;
            ++kept;
            total += len[i];
        }
    }
    std::string out;
    out.reserve(total);
    for (size_t i = 0; i < ok.size(); ++i) {
        if (!keep[i]) continue;
        const ProcessUseEntry& e = *ok[i];
        append_process_use_line(out, e.kind, e.dest, e.exe, e.user, e.container, e.count,
                                e.first_seen, e.last_seen);
    }
    if (left_out) *left_out = uses.size() - kept;
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
